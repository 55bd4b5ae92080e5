"""What lazy-loading syncs sent each device: one row per (device, room, member), replaced when a newer membership
event is sent, forgotten per room or per device, on both databases."""

from __future__ import annotations

from persistence.database import Database
from persistence.stores.sent_members import SentMemberStore
from protocol.sync_tokens import WriterPositions


def test_sent_members_are_kept_per_device_and_replaced_by_newer_ones(database: Database) -> None:
    store = SentMemberStore()
    early, later = WriterPositions(5), WriterPositions(7, (("persister2", 9),))
    with database.write() as conn:
        store.upsert_sent_members(conn, "@a:x", "PHONE", {"!r:x": {"@b:x": "$b1", "@c:x": "$c1"},
                                                          "!s:x": {"@b:x": "$b2"}}, early)
        store.upsert_sent_members(conn, "@a:x", "LAPTOP", {"!r:x": {"@b:x": "$b1"}}, early)
        store.upsert_sent_members(conn, "@a:x", "PHONE", {"!r:x": {"@b:x": "$b3"}}, later)
    with database.read() as conn:
        phone = store.list_sent_members(conn, "@a:x", "PHONE", ["!r:x", "!s:x", "!unknown:x"])
        laptop = store.list_sent_members(conn, "@a:x", "LAPTOP", ["!r:x"])
    assert {room: {member: (sent.event_id, sent.sent_until) for member, sent in members.items()}
            for room, members in phone.items()} == {
        "!r:x": {"@b:x": ("$b3", later), "@c:x": ("$c1", early)}, "!s:x": {"@b:x": ("$b2", early)}}
    assert laptop["!r:x"]["@b:x"].event_id == "$b1"
    with database.write() as conn:
        store.delete_sent_members(conn, "@a:x", "PHONE", ["!r:x"])
    with database.read() as conn:
        assert set(store.list_sent_members(conn, "@a:x", "PHONE", ["!r:x", "!s:x"])) == {"!s:x"}
    with database.write() as conn:
        store.delete_sent_members(conn, "@a:x", "PHONE")
    with database.read() as conn:
        assert store.list_sent_members(conn, "@a:x", "PHONE", ["!r:x", "!s:x"]) == {}
        assert set(store.list_sent_members(conn, "@a:x", "LAPTOP", ["!r:x"])) == {"!r:x"}, "other devices keep theirs"
