"""GET /notifications as an HTTP conversation, in both shapes: served from the push actions the events writer
stores, newest first, paged with ``from``/``next_token``, filtered with ``only=highlight``, marked ``read`` by the
user's read receipt."""

from __future__ import annotations

import time
from typing import Any

from tests.homeserver import HomeserverUnderTest
from tests.web.test_sync import _room

NOTIFICATIONS = "/_matrix/client/v3/notifications"
ALICE = "@alice:test.local"


def _send(server: HomeserverUnderTest, token: str, room_id: str, content: dict[str, Any]) -> str:
    response = server.put(f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t{time.monotonic_ns()}",
                          token=token, json=content)
    assert response.status_code == 200, response.json
    return str(response.json["event_id"])


def _ids(body: dict[str, Any]) -> list[str]:
    return [notification["event"]["event_id"] for notification in body["notifications"]]


def test_notifications_list_what_notified_newest_first_in_pages(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={})
    assert homeserver.get(NOTIFICATIONS, token=alice).json == {"notifications": []}
    sent = [_send(homeserver, bob, room_id, {"msgtype": "m.text", "body": f"m{index}"}) for index in range(3)]
    mention = _send(homeserver, bob, room_id, {"msgtype": "m.text", "body": "hey alice",
                                               "m.mentions": {"user_ids": [ALICE]}})
    everything = homeserver.get(NOTIFICATIONS, token=alice).json
    assert _ids(everything) == [mention, *reversed(sent)] and "next_token" not in everything
    newest = everything["notifications"][0]
    assert newest["room_id"] == room_id and newest["read"] is False and newest["profile_tag"] is None
    assert newest["event"]["content"]["body"] == "hey alice" and newest["event"]["sender"] == "@bob:test.local"
    assert {"set_tweak": "highlight"} in newest["actions"] and "notify" in newest["actions"]
    assert isinstance(newest["ts"], int) and newest["ts"] > 0
    first = homeserver.get(f"{NOTIFICATIONS}?limit=2", token=alice).json
    assert _ids(first) == [mention, sent[2]]
    rest = homeserver.get(f"{NOTIFICATIONS}?limit=2&from={first['next_token']}", token=alice).json
    assert _ids(rest) == [sent[1], sent[0]] and "next_token" not in rest
    highlights = homeserver.get(f"{NOTIFICATIONS}?only=highlight", token=alice).json
    assert _ids(highlights) == [mention]
    assert homeserver.get(NOTIFICATIONS, token=bob).json == {"notifications": []}, "only the recipient's"


def test_notifications_up_to_the_read_receipt_are_marked_read(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={})
    sent = [_send(homeserver, bob, room_id, {"msgtype": "m.text", "body": f"m{index}"}) for index in range(3)]
    receipt = homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/receipt/m.read/{sent[1]}", token=alice, json={})
    assert receipt.status_code == 200
    body = homeserver.get(NOTIFICATIONS, token=alice).json
    assert [(n["event"]["event_id"], n["read"]) for n in body["notifications"]] == [
        (sent[2], False), (sent[1], True), (sent[0], True)]


def test_bad_notifications_parameters_get_the_specs_errors(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    for query in ("from=abc", "from=-1", "limit=-1", "limit=many", "only=everything"):
        response = homeserver.get(f"{NOTIFICATIONS}?{query}", token=alice)
        assert (response.status_code, response.json["errcode"]) == (400, "M_INVALID_PARAM"), query
    assert homeserver.get(NOTIFICATIONS).status_code == 401
