"""What sliding sync lists sort and filter by, on both databases: each room's latest bump event within a token's
per-writer positions (kept in a table by the events writer as it stores events), and current state contents of
chosen types."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from persistence.database import Database
from persistence.stores.events import EventStore
from persistence.stores.room_lists import RoomListStore
from persistence.tables import current_state_events, events, room_bump_stamps, rooms
from protocol.events.model import Event
from protocol.room_versions import KNOWN_ROOM_VERSIONS
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


def _stored(conn: Connection, room_id: str, ordering: int, event_type: str, *, writer: str = "events1",
            rejected: bool = False, outlier: bool = False) -> Event:
    """An event stored the way the events writer stores it (``EventStore.insert_event``), which notes bumps."""
    event = Event.from_pdu({"type": event_type, "room_id": room_id, "sender": ALICE, "content": {"n": ordering},
                            "depth": abs(ordering), "prev_events": [], "auth_events": [],
                            "origin_server_ts": ordering}, KNOWN_ROOM_VERSIONS["10"])
    EventStore().insert_event(conn, event, room_id, ordering, writer, rejected_reason="bad" if rejected else None,
                              outlier=outlier)
    return event


def test_the_latest_bump_event_within_the_token_counts(database: Database) -> None:
    store = RoomListStore()
    with database.write() as conn:
        for room_id in ("!a:x", "!b:x", "!c:x"):
            _room(conn, room_id)
        _stored(conn, "!a:x", 1, "m.room.create")
        _stored(conn, "!a:x", 2, "m.room.message")
        _stored(conn, "!a:x", 5, "m.room.topic")  # not a bump event
        _stored(conn, "!b:x", 3, "m.room.create")
        _stored(conn, "!b:x", 6, "m.room.message", rejected=True)
        _stored(conn, "!b:x", 7, "m.room.encrypted", writer="events2")
        _stored(conn, "!c:x", 4, "m.room.member")
    with database.read() as conn:
        everything = store.list_bump_stamps(conn, ["!a:x", "!b:x", "!c:x"], WriterPositions(10))
        before_events2 = store.list_bump_stamps(conn, ["!a:x", "!b:x"], WriterPositions(6, (("events1", 10),)))
    assert everything == {"!a:x": 2, "!b:x": 7}, "rejected events and non-bump types do not count"
    assert before_events2 == {"!a:x": 2, "!b:x": 3}, "events2's event lies past the token: the one before it"


def test_the_writer_keeps_one_row_per_room_at_its_latest_bump(database: Database) -> None:
    with database.write() as conn:
        _room(conn, "!a:x")
        _stored(conn, "!a:x", 1, "m.room.create")
        _stored(conn, "!a:x", 4, "m.room.message")
        _stored(conn, "!a:x", -3, "m.room.message")  # backfilled history sorts before every live event
        _stored(conn, "!a:x", 6, "m.room.message", outlier=True)  # not in the timeline
        outlier = _stored(conn, "!a:x", 7, "m.sticker", outlier=True)
        assert [tuple(row) for row in conn.execute(select(room_bump_stamps))] == [("!a:x", 4, "events1")]
        EventStore().promote_outlier(conn, outlier.event_id, 8, replaces_state=None)
        assert [tuple(row) for row in conn.execute(select(room_bump_stamps))] == [("!a:x", 8, "events1")]
    with database.read() as conn:
        assert RoomListStore().list_bump_stamps(conn, ["!a:x"], WriterPositions(10)) == {"!a:x": 8}
        assert RoomListStore().list_bump_stamps(conn, ["!a:x"], WriterPositions(5)) == {"!a:x": 4}


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
