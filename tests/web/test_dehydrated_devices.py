"""Dehydrated devices (MSC3814): one parked device per user, its data for its owner only, its to-device messages
fetched in batches without being consumed."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.homeserver import HomeserverUnderTest
from tests.web.key_owners import KeyedDevice
from tests.web.test_sync import _room, _sync, settled_since

DEHYDRATED = "/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device"
DEVICES = "/_matrix/client/v3/devices"
KEYS = "/_matrix/client/v3/keys"
ALICE = "@alice:test.local"


def _device_keys(device: KeyedDevice) -> dict[str, Any]:
    """The identity keys a dehydrating client uploads: marked ``dehydrated`` and self-signed like any device's."""
    unsigned = {name: value for name, value in device.device_keys().items() if name != "signatures"}
    return device.sign({**unsigned, "dehydrated": True})


def _body(device: KeyedDevice, pickle: str = "pickle", **extra: Any) -> dict[str, Any]:
    return {"device_id": device.device_id,
            "device_data": {"algorithm": "m.dehydration.v2", "device_pickle": pickle, "nonce": "n"},
            "device_keys": _device_keys(device), "one_time_keys": device.one_time_keys(2),
            "fallback_keys": device.fallback_key(), **extra}


def _dehydrate(server: HomeserverUnderTest, token: str, device_id: str, **extra: Any) -> dict[str, Any]:
    """Park a device with two one-time keys and a fallback key; returns the request's body."""
    body = _body(KeyedDevice(ALICE, device_id), **extra)
    response = server.put(DEHYDRATED, token=token, json=body)
    assert (response.status_code, response.json) == (200, {"device_id": device_id})
    return body


def _query(server: HomeserverUnderTest, token: str, user_id: str) -> dict[str, Any]:
    response = server.post(f"{KEYS}/query", token=token, json={"device_keys": {user_id: []}})
    assert response.status_code == 200, response.json
    return response.json["device_keys"][user_id]  # type: ignore[no-any-return]


def _claim(server: HomeserverUnderTest, token: str, user_id: str, device_id: str) -> dict[str, Any]:
    response = server.post(f"{KEYS}/claim", token=token,
                           json={"one_time_keys": {user_id: {device_id: "signed_curve25519"}}})
    assert response.status_code == 200, response.json
    return response.json["one_time_keys"].get(user_id, {}).get(device_id, {})  # type: ignore[no-any-return]


def _device_ids(server: HomeserverUnderTest, token: str) -> list[str]:
    return sorted(device["device_id"] for device in server.get(DEVICES, token=token).json["devices"])


def _events(server: HomeserverUnderTest, token: str, device_id: str, next_batch: str | None = None) -> Any:
    body = {} if next_batch is None else {"next_batch": next_batch}
    response = server.post(f"{DEHYDRATED}/{quote(device_id, safe='')}/events", token=token, json=body)
    assert response.status_code == 200, response.json
    assert isinstance(response.json["next_batch"], str)
    return response.json


def _send(server: HomeserverUnderTest, token: str, txn: str, device_id: str, content: dict[str, Any]) -> None:
    response = server.put(f"/_matrix/client/v3/sendToDevice/m.room.encrypted/{txn}", token=token,
                          json={"messages": {ALICE: {device_id: content}}})
    assert response.status_code == 200, response.json


def _error(response: Any, status: int, errcode: str) -> None:
    assert (response.status_code, response.json["errcode"]) == (status, errcode), response.json


def test_a_dehydrated_device_is_stored_listed_and_read_back_by_its_owner_only(
        homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice", device_id="PHONE")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    _error(homeserver.get(DEHYDRATED, token=alice), 404, "M_NOT_FOUND")
    _dehydrate(homeserver, alice, "DRYONE", initial_device_display_name="Parked")
    assert homeserver.get(DEHYDRATED, token=alice).json == {
        "device_id": "DRYONE", "device_data": {"algorithm": "m.dehydration.v2", "device_pickle": "pickle",
                                               "nonce": "n"}}
    assert _device_ids(homeserver, alice) == ["DRYONE", "PHONE"]
    assert homeserver.get(f"{DEVICES}/DRYONE", token=alice).json["display_name"] == "Parked"
    _error(homeserver.get(DEHYDRATED, token=bob), 404, "M_NOT_FOUND")
    _error(homeserver.post(f"{DEHYDRATED}/DRYONE/events", token=bob, json={}), 403, "M_FORBIDDEN")
    versions = homeserver.get("/_matrix/client/versions").json
    assert versions["unstable_features"]["org.matrix.msc3814"] is True


def test_uploading_another_replaces_the_device(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice", device_id="PHONE")["access_token"]
    _dehydrate(homeserver, alice, "DRYONE")
    _dehydrate(homeserver, alice, "DRYTWO", pickle="second")
    assert homeserver.get(DEHYDRATED, token=alice).json["device_id"] == "DRYTWO"
    assert homeserver.get(DEHYDRATED, token=alice).json["device_data"]["device_pickle"] == "second"
    assert _device_ids(homeserver, alice) == ["DRYTWO", "PHONE"]
    assert homeserver.get(f"{DEVICES}/DRYTWO", token=alice).json["display_name"] == "Dehydrated device"
    _error(homeserver.post(f"{DEHYDRATED}/DRYONE/events", token=alice, json={}), 403, "M_FORBIDDEN")


def test_a_device_id_in_use_by_another_device_is_refused(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice", device_id="PHONE")["access_token"]
    _error(homeserver.put(DEHYDRATED, token=alice, json=_body(KeyedDevice(ALICE, "PHONE"))), 400,
           "M_INVALID_PARAM")
    assert homeserver.get("/_matrix/client/v3/account/whoami", token=alice).status_code == 200
    _error(homeserver.get(DEHYDRATED, token=alice), 404, "M_NOT_FOUND")
    _error(homeserver.put(DEHYDRATED, token=alice, json={**_body(KeyedDevice(ALICE, "DRY")), "device_data": {}}),
           400, "M_MISSING_PARAM")
    assert _device_ids(homeserver, alice) == ["PHONE"]


def test_the_keys_are_checked_as_keys_upload_checks_them(homeserver: HomeserverUnderTest) -> None:
    """MSC3814: the key fields "use the same structure as for the /keys/upload request", so the same errors."""
    alice = homeserver.register("alice", device_id="PHONE")["access_token"]
    device = KeyedDevice(ALICE, "DRY")
    for user_id, device_id in (("@bob:test.local", "DRY"), (ALICE, "OTHER")):
        someone_else = KeyedDevice(user_id, device_id)
        _error(homeserver.put(DEHYDRATED, token=alice, json={**_body(device), "device_keys": _device_keys(
            someone_else)}), 400, "M_BAD_JSON")
    malformed = {**_device_keys(device), "signatures": {ALICE: {"ed25519:DRY": 5}}}
    _error(homeserver.put(DEHYDRATED, token=alice, json={**_body(device), "device_keys": malformed}), 400,
           "M_BAD_JSON")
    without_keys = {name: value for name, value in _body(device).items() if name != "device_keys"}
    _error(homeserver.put(DEHYDRATED, token=alice, json=without_keys), 400, "M_MISSING_PARAM")
    _error(homeserver.put(DEHYDRATED, token=alice, json={**_body(device), "one_time_keys": {"no_colon": "k"}}), 400,
           "M_BAD_JSON")
    two_fallbacks = {**device.fallback_key("F1"), **device.fallback_key("F2")}
    _error(homeserver.put(DEHYDRATED, token=alice, json={**_body(device), "fallback_keys": two_fallbacks}), 400,
           "M_BAD_JSON")
    assert _device_ids(homeserver, alice) == ["PHONE"]
    assert _query(homeserver, alice, ALICE) == {}, "nothing was published by a refused upload"


def test_the_dehydrated_devices_keys_are_published(homeserver: HomeserverUnderTest) -> None:
    """Others find the device in /keys/query, claim its one-time keys then its fallback key, and learn of it
    through their device lists, as for a device that logged in and uploaded its keys."""
    alice = homeserver.register("alice", device_id="PHONE")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    assert homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={}).status_code == 200
    since = settled_since(homeserver, bob)
    body = _dehydrate(homeserver, alice, "DRY", initial_device_display_name="Parked")

    assert _query(homeserver, bob, ALICE) == {
        "DRY": {**body["device_keys"], "unsigned": {"device_display_name": "Parked"}}}
    assert _query(homeserver, bob, ALICE)["DRY"]["dehydrated"] is True
    claimed = [_claim(homeserver, bob, ALICE, "DRY") for _ in range(3)]
    assert sorted(name for got in claimed[:2] for name in got) == sorted(body["one_time_keys"])
    assert claimed[2] == body["fallback_keys"], "one-time keys first, then the fallback key"
    homeserver.eventually(lambda: ALICE in _sync(homeserver, bob, since)["device_lists"]["changed"])


def test_replacing_the_device_deletes_the_old_devices_keys(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice", device_id="PHONE")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    _dehydrate(homeserver, alice, "DRYONE")
    second = _dehydrate(homeserver, alice, "DRYTWO")
    assert list(_query(homeserver, bob, ALICE)) == ["DRYTWO"]
    assert _claim(homeserver, bob, ALICE, "DRYONE") == {}
    assert list(_claim(homeserver, bob, ALICE, "DRYTWO")) == [min(second["one_time_keys"])]

    again = _dehydrate(homeserver, alice, "DRYTWO", pickle="same id, new keys")
    assert _query(homeserver, bob, ALICE)["DRYTWO"]["keys"] == again["device_keys"]["keys"]
    claimed = {name: key for _ in range(2) for name, key in _claim(homeserver, bob, ALICE, "DRYTWO").items()}
    assert claimed == again["one_time_keys"], "the old device's remaining one-time key went with it"
    assert homeserver.delete(DEHYDRATED, token=alice).status_code == 200
    assert _query(homeserver, bob, ALICE) == {}
    assert _claim(homeserver, bob, ALICE, "DRYTWO") == {}


def test_deleting_the_dehydrated_device(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice", device_id="PHONE")
    token = alice["access_token"]
    _error(homeserver.delete(DEHYDRATED, token=token), 404, "M_NOT_FOUND")
    _dehydrate(homeserver, token, "DRYONE")
    assert homeserver.delete(DEHYDRATED, token=token).json == {"device_id": "DRYONE"}
    _error(homeserver.get(DEHYDRATED, token=token), 404, "M_NOT_FOUND")
    _error(homeserver.delete(DEHYDRATED, token=token), 404, "M_NOT_FOUND")
    assert _device_ids(homeserver, token) == ["PHONE"]

    _dehydrate(homeserver, token, "DRYTWO")
    challenge = homeserver.delete(f"{DEVICES}/DRYTWO", token=token, json={})
    done = homeserver.delete(f"{DEVICES}/DRYTWO", token=token, json={
        "auth": homeserver.password_auth(alice["user_id"], session=challenge.json["session"])})
    assert done.status_code == 200, done.json
    _error(homeserver.get(DEHYDRATED, token=token), 404, "M_NOT_FOUND")  # deleting its device deleted it


def test_messages_are_fetched_in_batches_and_kept(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice", device_id="PHONE")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    device_id = "Xy/z+dehydrated"  # a curve25519 key in standard base64 may hold "/" and "+"
    _dehydrate(homeserver, alice, device_id)
    empty = _events(homeserver, alice, device_id)
    assert empty["events"] == []
    for n in range(101):
        _send(homeserver, bob, f"t{n}", device_id, {"n": n})
    _send(homeserver, bob, "phone", "PHONE", {"for": "the phone"})

    first = _events(homeserver, alice, device_id)
    assert [event["content"]["n"] for event in first["events"]] == list(range(100))
    assert first["events"][0] == {"sender": "@bob:test.local", "type": "m.room.encrypted", "content": {"n": 0}}
    second = _events(homeserver, alice, device_id, first["next_batch"])
    assert [event["content"]["n"] for event in second["events"]] == [100]
    last = _events(homeserver, alice, device_id, second["next_batch"])
    assert last["events"] == [], "past the last message: an empty batch, still with a next_batch"
    assert _events(homeserver, alice, device_id, last["next_batch"])["events"] == []
    assert len(_events(homeserver, alice, device_id, empty["next_batch"])["events"]) == 100, \
        "fetching consumed nothing: a rehydration may start again"
    _send(homeserver, bob, "late", device_id, {"n": "late"})
    assert [event["content"] for event in _events(homeserver, alice, device_id, last["next_batch"])["events"]] == [
        {"n": "late"}]

    bad = homeserver.post(f"{DEHYDRATED}/{quote(device_id, safe='')}/events", token=alice,
                          json={"next_batch": "not a token"})
    _error(bad, 400, "M_INVALID_PARAM")
    _error(homeserver.post(f"{DEHYDRATED}/PHONE/events", token=alice, json={}), 403, "M_FORBIDDEN")


def test_messages_of_a_replaced_device_are_dropped(homeserver: HomeserverUnderTest) -> None:
    """Re-dehydrating under the same id starts with an empty inbox: the old device's messages were dropped."""
    alice = homeserver.register("alice", device_id="PHONE")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    _dehydrate(homeserver, alice, "DRY")
    _send(homeserver, bob, "t1", "DRY", {"n": 1})
    assert len(_events(homeserver, alice, "DRY")["events"]) == 1
    _dehydrate(homeserver, alice, "DRY", pickle="fresh")
    homeserver.eventually(lambda: _events(homeserver, alice, "DRY")["events"] == [])
    _send(homeserver, bob, "t2", "DRY", {"n": 2})
    assert [event["content"] for event in _events(homeserver, alice, "DRY")["events"]] == [{"n": 2}]
