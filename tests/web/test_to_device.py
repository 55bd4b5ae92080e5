"""Send-to-device: delivered through /sync to exactly the addressed devices, once, kept until received."""

from __future__ import annotations

from typing import Any

from protocol.sync_tokens import WriterPositions
from tests.homeserver import HomeserverUnderTest
from tests.web.long_poll import LongPoll
from tests.web.test_sync import SYNC, _sync, settled_since

BOB = "@bob:test.local"
EVERYTHING = WriterPositions(2**62)


def _send(server: HomeserverUnderTest, token: str, txn: str, messages: dict[str, Any],
          event_type: str = "m.room_key_request") -> int:
    response = server.put(f"/_matrix/client/v3/sendToDevice/{event_type}/{txn}", token=token,
                          json={"messages": messages})
    assert response.status_code in (200, 400), response.json
    return response.status_code


def _received(synced: dict[str, Any]) -> list[Any]:
    return [(event["sender"], event["type"], event["content"]) for event in synced["to_device"]["events"]]


def test_messages_reach_the_addressed_devices_once(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    phone = homeserver.register("bob", device_id="PHONE")["access_token"]
    laptop = homeserver.login("bob", device_id="LAPTOP")["access_token"]
    since = {name: _sync(homeserver, token)["next_batch"] for name, token in (("phone", phone),
                                                                              ("laptop", laptop))}
    assert _send(homeserver, alice, "t1", {BOB: {"PHONE": {"n": 1}, "NOSUCHDEVICE": {"n": 0}}}) == 200
    assert _send(homeserver, alice, "t2", {BOB: {"*": {"n": 2}}, "@carol:elsewhere.example": {"X": {}}}) == 200
    assert _send(homeserver, alice, "t2", {BOB: {"*": {"n": 2}}}) == 200, "a retry delivers nothing again"
    on_phone = _sync(homeserver, phone, since["phone"])
    assert _received(on_phone) == [("@alice:test.local", "m.room_key_request", {"n": 1}),
                                   ("@alice:test.local", "m.room_key_request", {"n": 2})]
    assert _received(_sync(homeserver, laptop, since["laptop"])) == [
        ("@alice:test.local", "m.room_key_request", {"n": 2})]
    assert _received(_sync(homeserver, alice)) == []


def test_messages_are_kept_until_a_later_sync_proves_them_received(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob", device_id="PHONE")["access_token"]
    since = _sync(homeserver, bob)["next_batch"]
    _send(homeserver, alice, "t1", {BOB: {"PHONE": {"secret": "k"}}})
    first = _sync(homeserver, bob, since)
    lost_and_retried = _sync(homeserver, bob, since)
    assert _received(first) == _received(lost_and_retried) == [
        ("@alice:test.local", "m.room_key_request", {"secret": "k"})]
    assert _received(_sync(homeserver, bob, first["next_batch"])) == []

    def inbox_empty() -> bool:
        with homeserver.deps.database.read() as conn:
            return not homeserver.deps.stores.device_inbox.has_inbox_up_to(conn, BOB, "PHONE", EVERYTHING)

    homeserver.eventually(inbox_empty)


def test_a_long_backlog_arrives_in_pages_in_order(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob", device_id="PHONE")["access_token"]
    since = _sync(homeserver, bob)["next_batch"]
    for batch in range(3):
        response = homeserver.put(f"/_matrix/client/v3/sendToDevice/m.test/b{batch}", token=alice, json={
            "messages": {BOB: {"PHONE": {"batch": batch}}}})
        assert response.status_code == 200
    for index in range(120):
        _send(homeserver, alice, f"m{index}", {BOB: {"PHONE": {"index": index}}}, event_type="m.dummy")
    seen: list[Any] = []
    for _ in range(5):
        synced = _sync(homeserver, bob, since)
        seen.extend(content for _, _, content in _received(synced))
        since = synced["next_batch"]
    assert seen == [{"batch": b} for b in range(3)] + [{"index": i} for i in range(120)]


def test_malformed_messages_are_refused(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    missing = homeserver.put("/_matrix/client/v3/sendToDevice/m.test/t", token=alice, json={})
    assert (missing.status_code, missing.json["errcode"]) == (400, "M_MISSING_PARAM")
    for body in ({"messages": []}, {"messages": {"not-a-user": {}}}, {"messages": {BOB: []}},
                 {"messages": {BOB: {"PHONE": "text"}}}):
        response = homeserver.put("/_matrix/client/v3/sendToDevice/m.test/t", token=alice, json=body)
        assert (response.status_code, response.json["errcode"]) == (400, "M_BAD_JSON"), body


def test_a_waiting_sync_wakes_for_a_to_device_message(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob", device_id="PHONE")["access_token"]
    since = settled_since(homeserver, bob)
    poll = LongPoll(homeserver, bob, f"{SYNC}?since={since}&timeout=20000")
    _send(homeserver, alice, "t1", {BOB: {"PHONE": {"ping": True}}})
    answered = poll.answer()
    assert _received(answered["body"]) == [("@alice:test.local", "m.room_key_request", {"ping": True})]
