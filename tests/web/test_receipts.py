"""Read receipts as HTTP conversations, in both shapes: who sees them, threads, and never moving backwards."""

from __future__ import annotations

from typing import Any

from tests.homeserver import HomeserverUnderTest
from tests.web.long_poll import LongPoll
from tests.web.test_sync import SYNC, _room, _send, _sync

ALICE, BOB = "@alice:test.local", "@bob:test.local"
CLIENT = "/_matrix/client/v3"


def _receipt(server: HomeserverUnderTest, token: str, room_id: str, event_id: str, receipt_type: str = "m.read",
             **body: Any) -> Any:
    return server.post(f"{CLIENT}/rooms/{room_id}/receipt/{receipt_type}/{event_id}", token=token, json=body)


def _receipts(synced: dict[str, Any], room_id: str) -> list[dict[str, Any]]:
    """The ``m.receipt`` contents a sync holds for the room (none when the room is absent)."""
    room = synced["rooms"]["join"].get(room_id)
    if room is None:
        return []
    return [event["content"] for event in room["ephemeral"]["events"] if event["type"] == "m.receipt"]


def _shared_room(server: HomeserverUnderTest) -> tuple[str, str, str]:
    alice = server.register("alice")["access_token"]
    bob = server.register("bob")["access_token"]
    room_id = _room(server, alice, preset="public_chat")
    assert server.post(f"{CLIENT}/rooms/{room_id}/join", token=bob, json={}).status_code == 200
    return alice, bob, room_id


def _ordering(server: HomeserverUnderTest, event_id: str) -> int:
    with server.deps.database.read() as conn:
        stored = server.deps.stores.events.get_event(conn, event_id)
    assert stored is not None
    return stored.stream_ordering


def _read_position(server: HomeserverUnderTest, user_id: str, room_id: str) -> int | None:
    with server.deps.database.read() as conn:
        return server.deps.stores.receipts.get_read_position(conn, user_id, room_id)


def test_public_receipts_reach_members_and_private_ones_only_their_owner(homeserver: HomeserverUnderTest) -> None:
    alice, bob, room_id = _shared_room(homeserver)
    event_id = _send(homeserver, alice, room_id, "hello")
    since = _sync(homeserver, alice)["next_batch"]
    assert _receipt(homeserver, bob, room_id, event_id).status_code == 200
    seen = _sync(homeserver, alice, since)
    [content] = _receipts(seen, room_id)
    assert list(content) == [event_id] and list(content[event_id]) == ["m.read"]
    assert set(content[event_id]["m.read"][BOB]) == {"ts"}, "unthreaded: no thread_id"
    assert seen["rooms"]["join"][room_id]["timeline"]["events"] == [], "only a receipt changed in the room"
    assert _receipt(homeserver, bob, room_id, event_id, "m.read.private").status_code == 200
    assert room_id not in _sync(homeserver, alice, seen["next_batch"])["rooms"]["join"], "alice never sees it"
    [own] = _receipts(_sync(homeserver, bob, seen["next_batch"]), room_id)
    assert list(own[event_id]) == ["m.read.private"] and BOB in own[event_id]["m.read.private"]
    everything = {key for content in _receipts(_sync(homeserver, alice), room_id) for key in content[event_id]}
    assert everything == {"m.read"}, "an initial sync holds every receipt alice may see"
    assert _read_position(homeserver, BOB, room_id) == _ordering(homeserver, event_id)


def test_a_receipt_never_moves_the_read_position_backwards(homeserver: HomeserverUnderTest) -> None:
    alice, bob, room_id = _shared_room(homeserver)
    first, second = _send(homeserver, alice, room_id, "one"), _send(homeserver, alice, room_id, "two")
    assert _read_position(homeserver, BOB, room_id) is None
    _receipt(homeserver, bob, room_id, second)
    since = _sync(homeserver, alice)["next_batch"]
    assert _receipt(homeserver, bob, room_id, first).status_code == 200, "accepted, and ignored as Synapse does"
    assert _receipt(homeserver, bob, room_id, second).status_code == 200
    assert room_id not in _sync(homeserver, alice, since)["rooms"]["join"], "nothing changed"
    assert _read_position(homeserver, BOB, room_id) == _ordering(homeserver, second)
    # A private receipt behind the public one is kept (spec: "Private read receipts"); the read position is the
    # one further ahead.
    _receipt(homeserver, bob, room_id, first, "m.read.private")
    assert _read_position(homeserver, BOB, room_id) == _ordering(homeserver, second)
    third = _send(homeserver, alice, room_id, "three")
    _receipt(homeserver, bob, room_id, third, "m.read.private")
    assert _read_position(homeserver, BOB, room_id) == _ordering(homeserver, third)
    [content] = _receipts(_sync(homeserver, alice), room_id)
    assert content == {second: {"m.read": {BOB: content[second]["m.read"][BOB]}}}


def test_threaded_receipts_must_fit_their_event(homeserver: HomeserverUnderTest) -> None:
    alice, bob, room_id = _shared_room(homeserver)
    root = _send(homeserver, alice, room_id, "root")
    response = homeserver.put(f"{CLIENT}/rooms/{room_id}/send/m.room.message/reply1", token=alice, json={
        "msgtype": "m.text", "body": "in thread", "m.relates_to": {"rel_type": "m.thread", "event_id": root}})
    reply = response.json["event_id"]
    other = _send(homeserver, alice, room_id, "elsewhere")
    since = _sync(homeserver, alice)["next_batch"]
    for event_id, thread_id in ((reply, root), (root, root), (root, "main"), (other, "main")):
        assert _receipt(homeserver, bob, room_id, event_id, thread_id=thread_id).status_code == 200, thread_id
    for event_id, thread_id in ((reply, "main"), (other, root), (root, "$unknown")):
        refused = _receipt(homeserver, bob, room_id, event_id, thread_id=thread_id)
        assert (refused.status_code, refused.json["errcode"]) == (400, "M_INVALID_PARAM"), (event_id, thread_id)
    for body in ({"thread_id": ""}, {"thread_id": 5}):
        refused = _receipt(homeserver, bob, room_id, root, **body)
        assert (refused.status_code, refused.json["errcode"]) == (400, "M_INVALID_PARAM"), body
    refused = _receipt(homeserver, bob, room_id, root, "m.fully_read", thread_id="main")
    assert (refused.status_code, refused.json["errcode"]) == (400, "M_INVALID_PARAM")
    contents = _receipts(_sync(homeserver, alice, since), room_id)
    threads = {(event_id, data.get("thread_id")) for content in contents for event_id, types in content.items()
               for data in types["m.read"].values()}
    assert threads == {(reply, root), (other, "main")}, "one receipt per thread: main moved on from root to other"
    _receipt(homeserver, bob, room_id, root)
    assert _read_position(homeserver, BOB, room_id) == _ordering(homeserver, other), "main counts, a thread does not"


def test_receipts_need_a_joined_user_and_a_visible_event_of_the_room(homeserver: HomeserverUnderTest) -> None:
    alice, bob, room_id = _shared_room(homeserver)
    carol = homeserver.register("carol")["access_token"]
    event_id = _send(homeserver, alice, room_id, "hello")
    elsewhere = _send(homeserver, alice, _room(homeserver, alice), "elsewhere")
    cases = [(bob, room_id, "$unknown", "m.read", 404, "M_NOT_FOUND"),
             (bob, room_id, elsewhere, "m.read", 404, "M_NOT_FOUND"),
             (bob, "!unknown:test.local", event_id, "m.read", 404, "M_NOT_FOUND"),
             (carol, room_id, event_id, "m.read", 403, "M_FORBIDDEN"),
             (bob, room_id, event_id, "m.bogus", 400, "M_INVALID_PARAM"),
             (bob, room_id, "not-an-event", "m.read", 400, "M_INVALID_PARAM"),
             (bob, "not-a-room", event_id, "m.read", 400, "M_INVALID_PARAM")]
    for token, room, event, receipt_type, status, errcode in cases:
        refused = _receipt(homeserver, token, room, event, receipt_type)
        assert (refused.status_code, refused.json["errcode"]) == (status, errcode), (room, event, receipt_type)
    empty = homeserver.post(f"{CLIENT}/rooms/{room_id}/receipt/m.read/{event_id}", token=bob, data=b"")
    assert (empty.status_code, empty.json["errcode"]) == (400, "M_NOT_JSON")
    assert _receipts(_sync(homeserver, alice), room_id) == [], "nothing refused was stored"


def test_a_fully_read_receipt_moves_the_read_marker_forward_only(homeserver: HomeserverUnderTest) -> None:
    alice, bob, room_id = _shared_room(homeserver)
    first, second = _send(homeserver, alice, room_id, "one"), _send(homeserver, alice, room_id, "two")
    since = _sync(homeserver, bob)["next_batch"]
    marker = f"{CLIENT}/user/{BOB}/rooms/{room_id}/account_data/m.fully_read"
    assert _receipt(homeserver, bob, room_id, second, "m.fully_read").status_code == 200
    assert homeserver.get(marker, token=bob).json == {"event_id": second}
    moved = _sync(homeserver, bob, since)
    room = moved["rooms"]["join"][room_id]
    assert room["account_data"]["events"] == [{"type": "m.fully_read", "content": {"event_id": second}}]
    assert _receipts(moved, room_id) == [], "the read marker is no receipt"
    assert _receipt(homeserver, bob, room_id, first, "m.fully_read").status_code == 200
    assert homeserver.get(marker, token=bob).json == {"event_id": second}, "never backwards"
    assert room_id not in _sync(homeserver, bob, moved["next_batch"])["rooms"]["join"]


def test_a_waiting_sync_wakes_for_a_receipt(homeserver: HomeserverUnderTest) -> None:
    alice, bob, room_id = _shared_room(homeserver)
    event_id = _send(homeserver, alice, room_id, "hello")
    since = _sync(homeserver, alice)["next_batch"]
    poll = LongPoll(homeserver, alice, f"{SYNC}?since={since}&timeout=20000")
    assert poll.waiting, "nothing new yet: the sync waits"
    _receipt(homeserver, bob, room_id, event_id)
    answered = poll.answer()
    assert [list(content) for content in _receipts(answered["body"], room_id)] == [[event_id]]
    assert answered["seconds"] < 10, "woken by the doorbell, not by the timeout"
