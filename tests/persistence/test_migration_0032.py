"""Migration 0032 on data written by the code before it: every room's latest bump event is noted in
``room_bump_stamps`` (rejected events, outliers and other types left out), so lists sort as before."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from config.database import DatabaseConfig
from persistence import migrate
from persistence.database import Database
from persistence.stores.room_lists import RoomListStore
from persistence.tables import events, room_bump_stamps, rooms
from protocol.sync_tokens import WriterPositions
from tests.conftest import RUN_ID
from tests.services import PG_HOST, PG_PORT, PG_USER, drop_pg_database, recreate_pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def at_0027(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database of its own (the shared ones stay at head), migrated up to 0027."""
    if request.param == "sqlite":
        database = Database(DatabaseConfig("sqlite3", f"sqlite:///{tmp_path / 'old.db'}"))
    else:
        name = f"ganglion_test_{RUN_ID}_m0032"
        recreate_pg_database(name)
        request.addfinalizer(lambda: drop_pg_database(name))
        database = Database(DatabaseConfig("psycopg2", f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"))
    migrate.upgrade(database, "0027")
    yield database
    database.dispose()


def _event(ordering: int, room_id: str, event_type: str, *, writer: str = "events1", rejected: bool = False,
           outlier: bool = False) -> dict[str, object]:
    return {"event_id": f"$e{ordering}", "room_id": room_id, "stream_ordering": ordering, "depth": abs(ordering),
            "type": event_type, "state_key": None, "sender": "@a:x", "origin_server_ts": 1, "instance_name": writer,
            "json": "{}", "rejected_reason": "bad" if rejected else None, "outlier": outlier,
            "replaces_state": None}


def test_each_rooms_latest_bump_event_is_noted(at_0027: Database) -> None:
    with at_0027.write() as conn:
        conn.execute(insert(rooms), [{"room_id": room_id, "room_version": "10", "creator": "@a:x", "created_ts": 1}
                                     for room_id in ("!a:x", "!b:x", "!c:x")])
        conn.execute(insert(events), [
            _event(-2, "!a:x", "m.room.message"), _event(1, "!a:x", "m.room.create"),
            _event(2, "!a:x", "m.room.message", writer="events2"), _event(3, "!a:x", "m.room.topic"),
            _event(4, "!b:x", "m.room.create"), _event(5, "!b:x", "m.room.message", rejected=True),
            _event(6, "!b:x", "m.sticker", outlier=True), _event(7, "!c:x", "m.room.member")])
    migrate.upgrade(at_0027, "head")
    with at_0027.read() as conn:
        noted = sorted(tuple(row) for row in conn.execute(select(room_bump_stamps)))
        listed = RoomListStore().list_bump_stamps(conn, ["!a:x", "!b:x", "!c:x"], WriterPositions(10))
    assert noted == [("!a:x", 2, "events2"), ("!b:x", 4, "events1")]
    assert listed == {"!a:x": 2, "!b:x": 4}
