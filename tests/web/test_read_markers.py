"""Read markers as HTTP conversations, in both shapes: the fully read marker and the receipts in one request."""

from __future__ import annotations

from typing import Any

from tests.homeserver import HomeserverUnderTest
from tests.web.long_poll import LongPoll
from tests.web.test_receipts import _ordering, _read_position, _receipts, _shared_room
from tests.web.test_sync import SYNC, _send, _sync

BOB = "@bob:test.local"
CLIENT = "/_matrix/client/v3"


def _markers(server: HomeserverUnderTest, token: str, room_id: str, body: Any) -> Any:
    return server.post(f"{CLIENT}/rooms/{room_id}/read_markers", token=token, json=body)


def _fully_read(server: HomeserverUnderTest, token: str, room_id: str) -> Any:
    return server.get(f"{CLIENT}/user/{BOB}/rooms/{room_id}/account_data/m.fully_read", token=token)


def test_one_request_moves_the_marker_and_both_receipts(homeserver: HomeserverUnderTest) -> None:
    alice, bob, room_id = _shared_room(homeserver)
    first, second = _send(homeserver, alice, room_id, "one"), _send(homeserver, alice, room_id, "two")
    since = _sync(homeserver, alice)["next_batch"]
    response = _markers(homeserver, bob, room_id, {"m.fully_read": second, "m.read": first,
                                                   "m.read.private": second, "org.example.unknown": first})
    assert (response.status_code, response.json) == (200, {})
    assert _fully_read(homeserver, bob, room_id).json == {"event_id": second}
    [public] = _receipts(_sync(homeserver, alice, since), room_id)
    assert list(public) == [first] and list(public[first]) == ["m.read"]
    synced = _sync(homeserver, bob)
    own = synced["rooms"]["join"][room_id]
    receipt_types = {(event_id, kind) for content in _receipts(synced, room_id)
                     for event_id, kinds in content.items() for kind in kinds}
    assert receipt_types == {(first, "m.read"), (second, "m.read.private")}
    assert {"type": "m.fully_read", "content": {"event_id": second}} in own["account_data"]["events"]
    assert _read_position(homeserver, BOB, room_id) == _ordering(homeserver, second)


def test_the_marker_only_moves_forward(homeserver: HomeserverUnderTest) -> None:
    alice, bob, room_id = _shared_room(homeserver)
    first, second = _send(homeserver, alice, room_id, "one"), _send(homeserver, alice, room_id, "two")
    _markers(homeserver, bob, room_id, {"m.fully_read": second})
    assert _markers(homeserver, bob, room_id, {"m.fully_read": first}).status_code == 200
    assert _fully_read(homeserver, bob, room_id).json == {"event_id": second}


def test_every_event_is_checked_before_anything_is_written(homeserver: HomeserverUnderTest) -> None:
    alice, bob, room_id = _shared_room(homeserver)
    carol = homeserver.register("carol")["access_token"]
    event_id = _send(homeserver, alice, room_id, "one")
    cases = [(bob, {"m.fully_read": event_id, "m.read": "$unknown"}, 404, "M_NOT_FOUND"),
             (bob, {"m.fully_read": event_id, "m.read": "not-an-event"}, 400, "M_INVALID_PARAM"),
             (bob, {"m.fully_read": 5}, 400, "M_BAD_JSON"),
             (bob, {"m.read": [event_id]}, 400, "M_BAD_JSON"),
             (bob, {"m.read.private": {"event_id": event_id}}, 400, "M_BAD_JSON"),
             (carol, {"m.fully_read": event_id}, 403, "M_FORBIDDEN")]
    for token, body, status, errcode in cases:
        refused = _markers(homeserver, token, room_id, body)
        assert (refused.status_code, refused.json["errcode"]) == (status, errcode), body
    assert _fully_read(homeserver, bob, room_id).status_code == 404, "nothing was written"
    assert _receipts(_sync(homeserver, alice), room_id) == []
    assert _markers(homeserver, bob, room_id, {}).status_code == 200, "every marker is optional"


def test_a_waiting_sync_wakes_for_a_read_marker_set_elsewhere(homeserver: HomeserverUnderTest) -> None:
    alice, bob, room_id = _shared_room(homeserver)
    event_id = _send(homeserver, alice, room_id, "one")
    phone = homeserver.login("bob")["access_token"]
    since = _sync(homeserver, bob)["next_batch"]
    poll = LongPoll(homeserver, bob, f"{SYNC}?since={since}&timeout=20000")
    assert poll.waiting, "nothing new yet: the sync waits"
    _markers(homeserver, phone, room_id, {"m.fully_read": event_id})
    answered = poll.answer()
    assert answered["body"]["rooms"]["join"][room_id]["account_data"]["events"] == [
        {"type": "m.fully_read", "content": {"event_id": event_id}}]
