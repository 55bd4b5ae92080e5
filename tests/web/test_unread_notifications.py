"""Unread notification counts in /sync, in both shapes: per room, per thread on request, cleared by speaking."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from persistence.tables import event_push_actions
from tasks.background import DELETE_EXPIRED
from tests.homeserver import HomeserverUnderTest
from tests.statements import recorded_statements
from tests.web.test_push_actions import BOB, _send, _trio
from tests.web.test_sync import _room, _sync

THREADS = {"room": {"timeline": {"unread_thread_notifications": True}}}


def _text(body: str, **extra: Any) -> dict[str, Any]:
    return {"msgtype": "m.text", "body": body, **extra}


def _counts(body: dict[str, Any], room_id: str) -> dict[str, int]:
    return body["rooms"]["join"][room_id]["unread_notifications"]  # type: ignore[no-any-return]


def test_counts_grow_with_messages_and_mentions_and_reset_when_the_user_speaks(
        homeserver: HomeserverUnderTest) -> None:
    tokens, room_id = _trio(homeserver)
    first = _sync(homeserver, tokens["bob"])
    assert _counts(first, room_id) == {"notification_count": 0, "highlight_count": 0}
    _send(homeserver, tokens["alice"], room_id, _text("one"))
    _send(homeserver, tokens["alice"], room_id, _text("bob!", **{"m.mentions": {"user_ids": [BOB]}}))
    _send(homeserver, tokens["alice"], room_id, {"msgtype": "m.notice", "body": "a bot"})
    later = _sync(homeserver, tokens["bob"], first["next_batch"])
    assert _counts(later, room_id) == {"notification_count": 2, "highlight_count": 1}, \
        "the counts arrive in the same response as the events"
    assert _counts(_sync(homeserver, tokens["carol"]), room_id) == {"notification_count": 2, "highlight_count": 0}
    _send(homeserver, tokens["bob"], room_id, _text("read it all"))
    after_speaking = _sync(homeserver, tokens["bob"], later["next_batch"])
    assert _counts(after_speaking, room_id) == {"notification_count": 0, "highlight_count": 0}
    _send(homeserver, tokens["alice"], room_id, _text("again"))
    assert _counts(_sync(homeserver, tokens["bob"], after_speaking["next_batch"]), room_id) == {
        "notification_count": 1, "highlight_count": 0}
    assert _counts(_sync(homeserver, tokens["alice"]), room_id) == {"notification_count": 0, "highlight_count": 0}, \
        "bob's message came before alice's last one"


def test_threads_are_counted_apart_only_when_the_filter_asks(homeserver: HomeserverUnderTest) -> None:
    tokens, room_id = _trio(homeserver)
    root = _send(homeserver, tokens["alice"], room_id, _text("root"))
    thread = {"m.relates_to": {"rel_type": "m.thread", "event_id": root}}
    _send(homeserver, tokens["alice"], room_id, _text("reply 1", **thread))
    _send(homeserver, tokens["alice"], room_id, _text("reply 2", **thread, **{"m.mentions": {"user_ids": [BOB]}}))
    together = _sync(homeserver, tokens["bob"])["rooms"]["join"][room_id]
    assert together["unread_notifications"] == {"notification_count": 3, "highlight_count": 1}
    assert "unread_thread_notifications" not in together
    apart = _sync(homeserver, tokens["bob"], filter=THREADS)["rooms"]["join"][room_id]
    assert apart["unread_notifications"] == {"notification_count": 1, "highlight_count": 0}
    assert apart["unread_thread_notifications"] == {root: {"notification_count": 2, "highlight_count": 1}}
    _send(homeserver, tokens["bob"], room_id, _text("seen", **thread))
    read = _sync(homeserver, tokens["bob"], filter=THREADS)["rooms"]["join"][room_id]
    assert read["unread_notifications"] == {"notification_count": 0, "highlight_count": 0}
    assert "unread_thread_notifications" not in read, "a thread without notifications is left out"


def test_the_counts_of_all_rooms_take_the_same_three_queries(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    rooms = [_room(homeserver, alice, preset="public_chat") for _ in range(4)]

    def queries() -> tuple[int, int, int]:
        with recorded_statements(homeserver.deps.database) as seen:
            body = _sync(homeserver, bob)
        assert set(body["rooms"]["join"]) == set(joined)
        return (sum("event_push_actions" in statement for statement in seen),
                sum("max(events.stream_ordering)" in statement for statement in seen),
                sum("max(receipts.event_stream_ordering)" in statement for statement in seen))

    joined = rooms[:1]
    homeserver.post(f"/_matrix/client/v3/rooms/{rooms[0]}/join", token=bob, json={})
    one = queries()
    for room_id in rooms[1:]:
        homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={})
        _send(homeserver, alice, room_id, _text("hi"))
    joined = rooms
    assert queries() == one == (1, 1, 1)


def test_a_read_receipt_brings_the_count_down_to_what_follows_it(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={})
    sent = [_send(homeserver, alice, room_id, _text(f"m{index}")) for index in range(3)]

    def counts() -> dict[str, int]:
        return _sync(homeserver, bob)["rooms"]["join"][room_id]["unread_notifications"]  # type: ignore[no-any-return]

    assert counts()["notification_count"] == 3
    for receipt_type, event_id, left in (("m.read", sent[0], 2), ("m.read.private", sent[1], 1),
                                         ("m.read", sent[0], 1), ("m.read", sent[2], 0)):
        response = homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/receipt/{receipt_type}/{event_id}",
                                   token=bob, json={})
        assert response.status_code == 200, response.json
        assert counts()["notification_count"] == left, (receipt_type, event_id)


def test_housekeeping_drops_only_the_push_actions_read_past(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={})
    sent = [_send(homeserver, alice, room_id, _text(f"m{index}")) for index in range(3)]
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/receipt/m.read/{sent[1]}", token=bob, json={})

    def rows() -> int:
        with homeserver.deps.database.read() as conn:
            return len(conn.execute(select(event_push_actions.c.event_id).where(
                event_push_actions.c.user_id == BOB)).all())

    assert rows() == 3
    homeserver.run_beat_job(DELETE_EXPIRED)
    assert rows() == 1, "the two read past are gone, the unread one stays"
    counts = _sync(homeserver, bob)["rooms"]["join"][room_id]["unread_notifications"]
    assert counts["notification_count"] == 1
