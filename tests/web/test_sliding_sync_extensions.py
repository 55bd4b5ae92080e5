"""Sliding sync extensions (MSC3884, MSC3885, MSC3959, MSC3960, MSC3961) as HTTP conversations in both shapes:
to-device messages with their own position, e2ee key counts and device lists, account data, receipts, typing,
and their scoping to lists and rooms."""

from __future__ import annotations

from typing import Any

from protocol.sync_tokens import WriterPositions
from tests.homeserver import HomeserverUnderTest
from tests.web.key_owners import KeyedDevice
from tests.web.long_poll import LongPoll
from tests.web.sliding_sync_client import SLIDING_SYNC, all_rooms, sliding_sync
from tests.web.test_sync import _room, _send, settled_since

CLIENT = "/_matrix/client/v3"
EVERYTHING = WriterPositions(2**62)


def _with(extensions: dict[str, Any], **lists: Any) -> dict[str, Any]:
    return {**all_rooms(**lists), "extensions": extensions}


def test_to_device_messages_come_once_past_their_acknowledged_position(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob", device_id="PHONE")["access_token"]
    body = {"extensions": {"to_device": {"enabled": True}}}
    first = sliding_sync(homeserver, bob, body)
    assert first["extensions"]["to_device"]["events"] == []
    sent = homeserver.put(f"{CLIENT}/sendToDevice/m.test/t1", token=alice,
                          json={"messages": {"@bob:test.local": {"PHONE": {"n": 1}}}})
    assert sent.status_code == 200
    since = first["extensions"]["to_device"]["next_batch"]
    fetch = {"extensions": {"to_device": {"enabled": True, "since": since}}}
    second = homeserver.eventually(lambda: (found := sliding_sync(homeserver, bob, fetch, pos=first["pos"]))[
        "extensions"]["to_device"]["events"] and found)
    assert second["extensions"]["to_device"]["events"] == [
        {"sender": "@alice:test.local", "type": "m.test", "content": {"n": 1}}]
    again = sliding_sync(homeserver, bob, fetch, pos=second["pos"])
    assert again["extensions"]["to_device"]["events"] == [{"sender": "@alice:test.local", "type": "m.test",
                                                           "content": {"n": 1}}], (
        "not acknowledged yet: the client named the position before the message")
    acknowledged = {"extensions": {"to_device": {"enabled": True,
                                                 "since": again["extensions"]["to_device"]["next_batch"]}}}
    after = sliding_sync(homeserver, bob, acknowledged, pos=again["pos"])
    assert after["extensions"]["to_device"]["events"] == []

    def deleted() -> bool:
        with homeserver.deps.database.read() as conn:
            return not homeserver.deps.stores.device_inbox.list_inbox(conn, "@bob:test.local", "PHONE", None,
                                                                      EVERYTHING, 10)

    homeserver.eventually(deleted)


def test_a_bad_to_device_since_is_invalid(homeserver: HomeserverUnderTest) -> None:
    bob = homeserver.register("bob")["access_token"]
    error = sliding_sync(homeserver, bob, {"extensions": {"to_device": {"enabled": True, "since": "junk"}}},
                        status=400)
    assert error["errcode"] == "M_INVALID_PARAM"


def test_e2ee_carries_key_counts_and_device_list_changes(homeserver: HomeserverUnderTest) -> None:
    alice_login = homeserver.register("alice", device_id="LAPTOP")
    alice = alice_login["access_token"]
    bob = homeserver.register("bob")["access_token"]
    device = KeyedDevice("@alice:test.local", "LAPTOP", stable=True)
    uploaded = homeserver.post(f"{CLIENT}/keys/upload", token=alice,
                               json={"device_keys": device.device_keys(), "one_time_keys": device.one_time_keys(3),
                                     "fallback_keys": device.fallback_key()})
    assert uploaded.status_code == 200, uploaded.json
    room_id = _room(homeserver, alice, preset="public_chat")
    settled_since(homeserver, alice)  # alice's own key upload is in the device_lists stream (a queue hop away)
    first = sliding_sync(homeserver, alice, {"extensions": {"e2ee": {"enabled": True}}})
    e2ee = first["extensions"]["e2ee"]
    assert e2ee["device_one_time_keys_count"]["signed_curve25519"] == 3
    assert e2ee["device_unused_fallback_key_types"] == ["signed_curve25519"]
    assert e2ee["device_lists"] == {"changed": [], "left": []}
    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=bob, json={}).status_code == 200
    second = sliding_sync(homeserver, alice, {"extensions": {"e2ee": {"enabled": True}}}, pos=first["pos"])
    assert second["extensions"]["e2ee"]["device_lists"]["changed"] == ["@bob:test.local"], (
        "bob came to share a room: alice must fetch his devices")
    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/leave", token=bob, json={}).status_code == 200
    third = sliding_sync(homeserver, alice, {"extensions": {"e2ee": {"enabled": True}}}, pos=second["pos"])
    assert third["extensions"]["e2ee"]["device_lists"]["left"] == ["@bob:test.local"]


def test_account_data_global_and_per_room(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    homeserver.put(f"{CLIENT}/user/@alice:test.local/account_data/org.example.global", token=alice,
                   json={"a": 1})
    homeserver.put(f"{CLIENT}/user/@alice:test.local/rooms/{room_id}/account_data/org.example.room", token=alice,
                   json={"b": 2})
    body = _with({"account_data": {"enabled": True}})
    first = homeserver.eventually(lambda: (found := sliding_sync(homeserver, alice, body))["extensions"][
        "account_data"]["rooms"] and found)
    data = first["extensions"]["account_data"]
    types = {event["type"] for event in data["global"]}
    assert {"org.example.global", "m.push_rules"} <= types
    assert data["rooms"] == {room_id: [{"type": "org.example.room", "content": {"b": 2}}]}
    homeserver.put(f"{CLIENT}/user/@alice:test.local/account_data/org.example.global", token=alice,
                   json={"a": 3})
    second = homeserver.eventually(lambda: (found := sliding_sync(homeserver, alice, body, pos=first["pos"]))[
        "extensions"]["account_data"]["global"] and found)
    assert second["extensions"]["account_data"] == {
        "global": [{"type": "org.example.global", "content": {"a": 3}}], "rooms": {}}


def test_receipts_and_typing_for_the_rooms_in_scope(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    shown = _room(homeserver, alice, preset="public_chat")
    hidden = _room(homeserver, alice, preset="public_chat")
    for room_id in (shown, hidden):
        assert homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=bob, json={}).status_code == 200
    body = {"lists": {"all": {"ranges": [[0, 9]], "timeline_limit": 1}},
            "room_subscriptions": {hidden: {"timeline_limit": 1}},
            "extensions": {"receipts": {"enabled": True, "lists": ["all"], "rooms": []},
                           "typing": {"enabled": True, "rooms": [hidden], "lists": []}}}
    first = sliding_sync(homeserver, alice, body)
    event_id = _send(homeserver, bob, shown, "read me")
    for room_id in (shown, hidden):
        assert homeserver.put(f"{CLIENT}/rooms/{room_id}/typing/@bob:test.local", token=bob,
                              json={"typing": True, "timeout": 30000}).status_code == 200
    assert homeserver.post(f"{CLIENT}/rooms/{shown}/receipt/m.read/{event_id}", token=bob, json={}).status_code == 200

    def both(pos: str) -> dict[str, Any] | None:
        found = sliding_sync(homeserver, alice, body, pos=pos)["extensions"]
        return found if found["receipts"]["rooms"] and found["typing"]["rooms"] else None

    extensions = homeserver.eventually(lambda: both(first["pos"]))
    receipt = extensions["receipts"]["rooms"][shown]
    assert receipt["type"] == "m.receipt"
    assert "@bob:test.local" in receipt["content"][event_id]["m.read"]
    assert set(extensions["typing"]["rooms"]) == {hidden}, "typing covers only the subscription it names"
    assert extensions["typing"]["rooms"][hidden] == {"type": "m.typing", "content": {"user_ids": ["@bob:test.local"]}}


def test_a_long_poll_wakes_for_typing(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=bob, json={}).status_code == 200
    body = _with({"typing": {"enabled": True}})
    first = sliding_sync(homeserver, alice, body)
    poll = LongPoll(homeserver, alice, f"{SLIDING_SYNC}?pos={first['pos']}&timeout=10000", method="POST", json=body)
    assert poll.waiting
    assert homeserver.put(f"{CLIENT}/rooms/{room_id}/typing/@bob:test.local", token=bob,
                          json={"typing": True, "timeout": 30000}).status_code == 200
    answer = poll.answer()
    assert answer["body"]["extensions"]["typing"]["rooms"][room_id]["content"]["user_ids"] == ["@bob:test.local"]
    assert answer["seconds"] < 8
