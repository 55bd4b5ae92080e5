"""Forgotten rooms hold only while the forgotten membership event is still the user's current one."""

from __future__ import annotations

from persistence.database import Database
from persistence.stores.forgotten_rooms import ForgottenRoomStore
from persistence.stores.state import StateStore


def test_a_forget_lasts_until_the_membership_changes(database: Database) -> None:
    forgotten, state = ForgottenRoomStore(), StateStore()
    alice = "@alice:x"
    with database.write() as conn:
        for room_id, event_id in (("!a:x", "$leave-a"), ("!b:x", "$ban-b")):
            membership = "leave" if "leave" in event_id else "ban"
            state.upsert_current_state(conn, room_id, ("m.room.member", alice), event_id, membership)
            forgotten.upsert_forgotten(conn, alice, room_id, event_id, 1)
        state.upsert_current_state(conn, "!b:x", ("m.room.member", "@bob:x"), "$bob", "join")
    with database.read() as conn:
        assert forgotten.list_forgotten_rooms(conn, alice) == ["!a:x", "!b:x"]
        assert forgotten.list_forgotten_rooms(conn, "@bob:x") == []
    with database.write() as conn:
        state.upsert_current_state(conn, "!a:x", ("m.room.member", alice), "$join-a", "join")
    with database.read() as conn:
        assert forgotten.list_forgotten_rooms(conn, alice) == ["!b:x"]
    with database.write() as conn:
        state.upsert_current_state(conn, "!a:x", ("m.room.member", alice), "$leave-a2", "leave")
        forgotten.upsert_forgotten(conn, alice, "!a:x", "$leave-a2", 2)  # forgetting again replaces the row
    with database.read() as conn:
        assert forgotten.list_forgotten_rooms(conn, alice) == ["!a:x", "!b:x"]
