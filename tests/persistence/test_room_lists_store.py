"""What sliding sync lists sort and filter by, on both databases: each room's latest bump event within a token's
per-writer positions, and current state contents of chosen types."""

from __future__ import annotations

from sqlalchemy import Connection, insert

from persistence.database import Database
from persistence.stores.room_lists import RoomListStore
from persistence.tables import current_state_events, events, rooms
from protocol.sliding_sync.lists import BUMP_EVENT_TYPES
from protocol.sync_tokens import WriterPositions

ALICE = "@alice:test.local"


def _room(conn: Connection, room_id: str) -> None:
    conn.execute(insert(rooms).values(room_id=room_id, room_version="12", creator=ALICE, created_ts=1))


def _event(conn: Connection, room_id: str, ordering: int, event_type: str, *, writer: str = "events1",
           rejected: bool = False, state_key: str | None = None, content: str = "{}") -> str:
    event_id = f"${room_id[1:3]}{ordering}"
    conn.execute(insert(events).values(
        event_id=event_id, room_id=room_id, stream_ordering=ordering, depth=ordering, type=event_type,
        state_key=state_key, sender=ALICE, origin_server_ts=ordering, instance_name=writer,
        json=f'{{"type": "{event_type}", "content": {content}}}', rejected_reason="bad" if rejected else None,
        outlier=False))
    return event_id


def test_the_latest_bump_event_within_the_token_counts(database: Database) -> None:
    store = RoomListStore()
    with database.write() as conn:
        for room_id in ("!a:x", "!b:x", "!c:x"):
            _room(conn, room_id)
        _event(conn, "!a:x", 1, "m.room.create")
        _event(conn, "!a:x", 2, "m.room.message")
        _event(conn, "!a:x", 5, "m.room.topic")  # not a bump event
        _event(conn, "!b:x", 3, "m.room.create")
        _event(conn, "!b:x", 6, "m.room.message", rejected=True)
        _event(conn, "!b:x", 7, "m.room.encrypted", writer="events2")
        _event(conn, "!c:x", 4, "m.room.member")
    with database.read() as conn:
        everything = store.list_bump_stamps(conn, ["!a:x", "!b:x", "!c:x"], BUMP_EVENT_TYPES, WriterPositions(10))
        before_events2 = store.list_bump_stamps(conn, ["!a:x", "!b:x"], BUMP_EVENT_TYPES,
                                                WriterPositions(6, (("events1", 10),)))
    assert everything == {"!a:x": 2, "!b:x": 7}, "rejected events and non-bump types do not count"
    assert before_events2 == {"!a:x": 2, "!b:x": 3}, "events2's event lies past the token"


def test_current_state_contents_of_chosen_types(database: Database) -> None:
    store = RoomListStore()
    with database.write() as conn:
        _room(conn, "!a:x")
        create = _event(conn, "!a:x", 1, "m.room.create", state_key="", content='{"type": "m.space"}')
        child = _event(conn, "!a:x", 2, "m.space.child", state_key="!b:x", content='{"via": ["x"]}')
        name = _event(conn, "!a:x", 3, "m.room.name", state_key="", content='{"name": "A"}')
        conn.execute(insert(current_state_events), [
            {"room_id": "!a:x", "type": kind, "state_key": key, "event_id": event_id, "membership": None}
            for kind, key, event_id in (("m.room.create", "", create), ("m.space.child", "!b:x", child),
                                        ("m.room.name", "", name))])
    with database.read() as conn:
        found = store.list_current_state_contents(conn, ["!a:x", "!none:x"], ["m.room.create", "m.space.child"])
    assert found == {"!a:x": {("m.room.create", ""): {"type": "m.space"}, ("m.space.child", "!b:x"): {"via": ["x"]}}}
