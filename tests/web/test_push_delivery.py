"""HTTP pushers deliver to a real push gateway (tests/push_gateway.py, written to the Push Gateway API), in both
shapes: what a notification holds, its order, ``event_id_only``, rejected pushkeys, retries after a failure, and
the badge after a read receipt."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tasks.background import SWEEP_PUSHERS
from tests.homeserver import HomeserverUnderTest
from tests.push_gateway import PushGateway, running_push_gateway

SET = "/_matrix/client/v3/pushers/set"
ROOMS = "/_matrix/client/v3/rooms"


@pytest.fixture
def gateway() -> Iterator[PushGateway]:
    with running_push_gateway() as running:
        yield running


def _pusher(gateway: PushGateway, pushkey: str = "alice-phone", **data: Any) -> dict[str, Any]:
    return {"kind": "http", "app_id": "org.example.app", "pushkey": pushkey, "app_display_name": "Example",
            "device_display_name": "Phone", "lang": "en", "data": {"url": gateway.url, "extra": "kept", **data}}


def _one_to_one(homeserver: HomeserverUnderTest) -> tuple[str, str, str]:
    """Alice and Bob alone in a room (every message there notifies Alice by default); answers their tokens and
    the room id."""
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = homeserver.post("/_matrix/client/v3/createRoom", token=bob,
                              json={"invite": ["@alice:test.local"]}).json["room_id"]
    assert homeserver.post(f"{ROOMS}/{room_id}/join", token=alice, json={}).status_code == 200
    return alice, bob, room_id


def _send(homeserver: HomeserverUnderTest, token: str, room_id: str, body: str, txn: str) -> str:
    response = homeserver.put(f"{ROOMS}/{room_id}/send/m.room.message/{txn}", token=token,
                              json={"msgtype": "m.text", "body": body})
    assert response.status_code == 200
    event_id: str = response.json["event_id"]
    return event_id


def test_a_message_reaches_the_gateway_as_the_push_gateway_api_describes(
        homeserver: HomeserverUnderTest, gateway: PushGateway) -> None:
    alice, bob, room_id = _one_to_one(homeserver)
    assert homeserver.post(SET, token=alice, json=_pusher(gateway)).status_code == 200
    event_id = _send(homeserver, bob, room_id, "hello", "t1")
    [notification] = gateway.wait_for_events(1)
    assert notification["event_id"] == event_id and notification["room_id"] == room_id
    assert notification["type"] == "m.room.message" and notification["sender"] == "@bob:test.local"
    assert notification["content"] == {"msgtype": "m.text", "body": "hello"}
    assert notification["sender_display_name"] == "bob"
    assert notification["counts"] == {"unread": 1}
    assert notification["prio"] == "high"  # a one-to-one message rings (sound tweak)
    [device] = notification["devices"]
    assert (device["app_id"], device["pushkey"], device["data"]) == ("org.example.app", "alice-phone",
                                                                     {"extra": "kept"})
    assert isinstance(device["pushkey_ts"], int) and device["tweaks"] == {"sound": "default"}


def test_notifications_arrive_once_each_in_order(homeserver: HomeserverUnderTest, gateway: PushGateway) -> None:
    alice, bob, room_id = _one_to_one(homeserver)
    homeserver.post(SET, token=alice, json=_pusher(gateway))
    sent = [_send(homeserver, bob, room_id, f"message {index}", f"t{index}") for index in range(5)]
    received = gateway.wait_for_events(5)
    homeserver.run_beat_job(SWEEP_PUSHERS)  # nothing is due: a sweep sends nothing again
    assert [notification["event_id"] for notification in received] == sent
    assert len(gateway.events()) == 5


def test_event_id_only_pushers_get_no_content(homeserver: HomeserverUnderTest, gateway: PushGateway) -> None:
    alice, bob, room_id = _one_to_one(homeserver)
    homeserver.post(SET, token=alice, json=_pusher(gateway, format="event_id_only"))
    event_id = _send(homeserver, bob, room_id, "secret", "t1")
    [notification] = gateway.wait_for_events(1)
    assert notification["event_id"] == event_id and notification["room_id"] == room_id
    assert "content" not in notification and "sender" not in notification
    assert notification["devices"][0]["data"] == {"extra": "kept", "format": "event_id_only"}


def test_a_pushkey_the_gateway_rejects_loses_its_pusher(homeserver: HomeserverUnderTest,
                                                        gateway: PushGateway) -> None:
    alice, bob, room_id = _one_to_one(homeserver)
    homeserver.post(SET, token=alice, json=_pusher(gateway))
    homeserver.post(SET, token=alice, json=_pusher(gateway, "alice-old-phone"))
    gateway.rejected.add("alice-old-phone")
    _send(homeserver, bob, room_id, "hello", "t1")
    gateway.wait_for_events(2)
    homeserver.eventually(lambda: [p["pushkey"] for p in homeserver.get(
        "/_matrix/client/v3/pushers", token=alice).json["pushers"]] == ["alice-phone"])


def test_a_failing_gateway_is_retried_after_its_backoff(homeserver: HomeserverUnderTest,
                                                        gateway: PushGateway) -> None:
    alice, bob, room_id = _one_to_one(homeserver)
    homeserver.post(SET, token=alice, json=_pusher(gateway))
    gateway.failing = True
    event_id = _send(homeserver, bob, room_id, "hello", "t1")

    def backing_off() -> bool:
        with homeserver.deps.database.read() as conn:
            [pusher] = homeserver.deps.stores.pushers.list_pushers(conn, "@alice:test.local")
        return pusher.failures == 1

    homeserver.eventually(backing_off)
    gateway.failing = False
    homeserver.clock.advance(60_000)  # well past the first backoff (1 s) by the sweep's clock and the monolith's
    if homeserver.shape == "workers":
        time.sleep(1.5)  # the Celery worker keeps real time
    homeserver.run_beat_job(SWEEP_PUSHERS)
    [notification] = gateway.wait_for_events(1)
    assert notification["event_id"] == event_id


def test_a_read_receipt_sends_the_badge_once_it_changes(homeserver: HomeserverUnderTest, gateway: PushGateway) -> None:
    alice, bob, room_id = _one_to_one(homeserver)
    homeserver.post(SET, token=alice, json=_pusher(gateway))
    event_id = _send(homeserver, bob, room_id, "hello", "t1")
    gateway.wait_for_events(1)
    assert homeserver.post(f"{ROOMS}/{room_id}/receipt/m.read/{event_id}", token=alice, json={}).status_code == 200

    def badge_update() -> list[dict[str, Any]]:
        return [n for n in gateway.notifications if not n.get("event_id")]

    [badge] = homeserver.eventually(badge_update)
    assert badge["counts"] == {"unread": 0} and badge["devices"][0]["pushkey"] == "alice-phone"

    own = _send(homeserver, alice, room_id, "my own", "t2")  # reading it leaves the badge at 0: nothing is sent
    assert homeserver.post(f"{ROOMS}/{room_id}/receipt/m.read/{own}", token=alice, json={}).status_code == 200
    time.sleep(1)
    assert len(badge_update()) == 1
