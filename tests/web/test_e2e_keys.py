"""Device keys, one-time and fallback keys: upload, query, claim, and the device-list changes they cause."""

from __future__ import annotations

import threading
from typing import Any

from tests.homeserver import HomeserverUnderTest
from tests.web.key_owners import KeyedDevice
from tests.web.long_poll import LongPoll
from tests.web.test_sync import SYNC, _room, _sync, settled_since

KEYS = "/_matrix/client/v3/keys"


def _upload(server: HomeserverUnderTest, token: str, **body: Any) -> Any:
    response = server.post(f"{KEYS}/upload", token=token, json=body)
    assert response.status_code == 200, response.json
    return response.json


def _query(server: HomeserverUnderTest, token: str, users: dict[str, list[str]]) -> Any:
    response = server.post(f"{KEYS}/query", token=token, json={"device_keys": users, "timeout": 10000})
    assert response.status_code == 200, response.json
    return response.json


def _claim(server: HomeserverUnderTest, token: str, user_id: str, device_id: str) -> dict[str, Any]:
    response = server.post(f"{KEYS}/claim", token=token,
                           json={"one_time_keys": {user_id: {device_id: "signed_curve25519"}}})
    assert response.status_code == 200, response.json
    return response.json["one_time_keys"].get(user_id, {}).get(device_id, {})  # type: ignore[no-any-return]


def _keyed(server: HomeserverUnderTest, name: str, device_id: str, **extra: Any) -> tuple[str, KeyedDevice]:
    account = server.register(name, device_id=device_id, initial_device_display_name=f"{name}'s phone", **extra)
    return account["access_token"], KeyedDevice(account["user_id"], device_id)


def test_uploaded_keys_are_counted_and_served_with_the_device_name(homeserver: HomeserverUnderTest) -> None:
    alice, device = _keyed(homeserver, "alice", "ALICE1")
    bob = homeserver.register("bob")["access_token"]
    identity = device.device_keys()
    counts = _upload(homeserver, alice, device_keys=identity, one_time_keys=device.one_time_keys(3))
    assert counts == {"one_time_key_counts": {"signed_curve25519": 3}}
    assert _upload(homeserver, alice)["one_time_key_counts"] == {"signed_curve25519": 3}

    answer = _query(homeserver, bob, {device.user_id: [], "@nobody:test.local": [], "@carol:elsewhere.example": []})
    served = answer["device_keys"][device.user_id]["ALICE1"]
    assert served == {**identity, "unsigned": {"device_display_name": "alice's phone"}}
    assert answer["device_keys"]["@nobody:test.local"] == {}
    assert list(answer["failures"]) == ["elsewhere.example"], "its server cannot be reached"
    named = _query(homeserver, bob, {device.user_id: ["ALICE1", "MISSING"]})["device_keys"][device.user_id]
    assert list(named) == ["ALICE1"]


def test_one_time_key_reupload_must_match(homeserver: HomeserverUnderTest) -> None:
    alice, device = _keyed(homeserver, "alice", "ALICE1")
    keys = device.one_time_keys(2)
    _upload(homeserver, alice, one_time_keys=keys)
    assert _upload(homeserver, alice, one_time_keys=keys)["one_time_key_counts"] == {"signed_curve25519": 2}, \
        "the same keys again (a retried request) are accepted and not counted twice"
    name = next(iter(keys))
    changed = homeserver.post(f"{KEYS}/upload", token=alice, json={"one_time_keys": {name: {"key": "other"}}})
    assert (changed.status_code, changed.json["errcode"]) == (400, "M_INVALID_PARAM")


def test_device_keys_must_be_the_callers_and_well_formed(homeserver: HomeserverUnderTest) -> None:
    alice, device = _keyed(homeserver, "alice", "ALICE1")
    for field, value in (("user_id", "@bob:test.local"), ("device_id", "OTHER")):
        wrong = device.sign({**device.device_keys(), field: value, "signatures": {}})
        response = homeserver.post(f"{KEYS}/upload", token=alice, json={"device_keys": wrong})
        assert (response.status_code, response.json["errcode"]) == (400, "M_BAD_JSON")
    unreadable = {**device.device_keys(), "signatures": {"@alice:test.local": {"ed25519:ALICE1": 5}}}
    response = homeserver.post(f"{KEYS}/upload", token=alice, json={"device_keys": unreadable})
    assert (response.status_code, response.json["errcode"]) == (400, "M_BAD_JSON")
    bad_name = homeserver.post(f"{KEYS}/upload", token=alice, json={"one_time_keys": {"no_colon": "x"}})
    assert (bad_name.status_code, bad_name.json["errcode"]) == (400, "M_BAD_JSON")


def test_queried_device_keys_always_carry_unsigned(homeserver: HomeserverUnderTest) -> None:
    """As Synapse: ``unsigned`` is there even when the device has no display name to put in it."""
    alice = homeserver.register("alice", device_id="ALICE1")["access_token"]
    _upload(homeserver, alice, device_keys=KeyedDevice("@alice:test.local", "ALICE1").device_keys())
    served = _query(homeserver, alice, {"@alice:test.local": []})["device_keys"]["@alice:test.local"]["ALICE1"]
    assert served["unsigned"] == {}


def test_device_keys_with_an_unverifiable_self_signature_are_stored_as_sent(homeserver: HomeserverUnderTest) -> None:
    """As Synapse: the server logs it and keeps the keys; the devices that query them check the signature."""
    alice, device = _keyed(homeserver, "alice", "ALICE1")
    tampered = {**device.device_keys(), "algorithms": ["m.megolm.v1.aes-sha2"]}
    response = homeserver.post(f"{KEYS}/upload", token=alice, json={"device_keys": tampered})
    assert response.status_code == 200, response.json
    served = _query(homeserver, alice, {"@alice:test.local": []})["device_keys"]["@alice:test.local"]["ALICE1"]
    assert served["algorithms"] == ["m.megolm.v1.aes-sha2"]
    assert served["signatures"] == tampered["signatures"]


def test_claims_exhaust_one_time_keys_then_fall_back(homeserver: HomeserverUnderTest) -> None:
    alice, device = _keyed(homeserver, "alice", "ALICE1")
    bob = homeserver.register("bob")["access_token"]
    one_time = device.one_time_keys(2)
    fallback = device.fallback_key()
    _upload(homeserver, alice, device_keys=device.device_keys(), one_time_keys=one_time, fallback_keys=fallback)
    first_sync = _sync(homeserver, alice)
    assert first_sync["device_one_time_keys_count"] == {"signed_curve25519": 2}
    assert first_sync["device_unused_fallback_key_types"] == ["signed_curve25519"]

    claimed = [_claim(homeserver, bob, device.user_id, "ALICE1") for _ in range(2)]
    assert sorted(name for got in claimed for name in got) == sorted(one_time)
    assert all(got == {name: one_time[name]} for got in claimed for name in got)
    after_claims = _sync(homeserver, alice)
    assert after_claims["device_one_time_keys_count"] == {"signed_curve25519": 0}
    assert after_claims["device_unused_fallback_key_types"] == ["signed_curve25519"]

    for _ in range(2):
        assert _claim(homeserver, bob, device.user_id, "ALICE1") == fallback, "the fallback key stays usable"
    assert _sync(homeserver, alice)["device_unused_fallback_key_types"] == [], "a claimed fallback key is used"
    _upload(homeserver, alice, fallback_keys=fallback)
    assert _sync(homeserver, alice)["device_unused_fallback_key_types"] == [], "the same key again stays used"
    _upload(homeserver, alice, fallback_keys=device.fallback_key("FALLBACK2"))
    assert _sync(homeserver, alice)["device_unused_fallback_key_types"] == ["signed_curve25519"]
    assert list(_claim(homeserver, bob, device.user_id, "ALICE1")) == ["signed_curve25519:FALLBACK2"]
    assert _claim(homeserver, bob, device.user_id, "NOSUCHDEVICE") == {}
    remote = homeserver.post(f"{KEYS}/claim", token=bob, json={
        "one_time_keys": {"@x:elsewhere.example": {"D": "signed_curve25519"}}, "timeout": 10})
    assert remote.json["one_time_keys"] == {} and list(remote.json["failures"]) == ["elsewhere.example"]


def test_concurrent_claims_never_hand_out_a_key_twice(homeserver: HomeserverUnderTest) -> None:
    alice, device = _keyed(homeserver, "alice", "ALICE1")
    claimers = [homeserver.register(f"claimer{n}")["access_token"] for n in range(6)]
    keys = device.one_time_keys(12)
    _upload(homeserver, alice, one_time_keys=keys)
    claimed: list[str] = []
    lock = threading.Lock()

    def claim_all(token: str) -> None:
        client = homeserver.app.test_client()
        for _ in range(3):
            response = client.post(f"{KEYS}/claim", headers={"Authorization": f"Bearer {token}"},
                                   json={"one_time_keys": {device.user_id: {"ALICE1": "signed_curve25519"}}})
            assert response.status_code == 200, response.json
            with lock:
                claimed.extend(response.json["one_time_keys"].get(device.user_id, {}).get("ALICE1", {}))

    threads = [threading.Thread(target=claim_all, args=(token,)) for token in claimers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == len(set(claimed)), "no one-time key was handed out twice"
    assert set(claimed) <= set(keys)
    with homeserver.deps.database.read() as conn:
        left = homeserver.deps.stores.e2e_keys.count_one_time_keys(conn, device.user_id, "ALICE1")
    assert len(claimed) + left.get("signed_curve25519", 0) == 12, "every key is claimed once or still there"


def test_deleting_a_device_deletes_its_keys(homeserver: HomeserverUnderTest) -> None:
    alice, device = _keyed(homeserver, "alice", "ALICE1")
    second = homeserver.login("alice", device_id="ALICE2")
    other = KeyedDevice(device.user_id, "ALICE2")
    _upload(homeserver, second["access_token"], device_keys=other.device_keys(), one_time_keys=other.one_time_keys(2),
            fallback_keys=other.fallback_key())
    assert list(_query(homeserver, alice, {device.user_id: []})["device_keys"][device.user_id]) == ["ALICE2"]
    challenge = homeserver.delete("/_matrix/client/v3/devices/ALICE2", token=alice, json={})
    done = homeserver.delete("/_matrix/client/v3/devices/ALICE2", token=alice, json={
        "auth": homeserver.password_auth(device.user_id, session=challenge.json["session"])})
    assert done.status_code == 200
    assert _query(homeserver, alice, {device.user_id: []})["device_keys"][device.user_id] == {}
    assert _claim(homeserver, alice, device.user_id, "ALICE2") == {}
    again = homeserver.login("alice", device_id="ALICE2")
    assert _sync(homeserver, again["access_token"])["device_one_time_keys_count"] == {"signed_curve25519": 0}


def test_key_uploads_show_in_sync_and_key_changes(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob, device = _keyed(homeserver, "bob", "BOB1")
    carol = homeserver.register("carol")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={})
    since = _sync(homeserver, alice)["next_batch"]
    carols_since = _sync(homeserver, carol)["next_batch"]
    _upload(homeserver, bob, device_keys=device.device_keys())
    homeserver.eventually(lambda: "@bob:test.local" in _sync(homeserver, alice, since)["device_lists"]["changed"])
    until = _sync(homeserver, alice)["next_batch"]
    changes = homeserver.get(f"{KEYS}/changes?from={since}&to={until}", token=alice)
    assert changes.status_code == 200
    assert changes.json == {"changed": ["@bob:test.local"], "left": []}
    assert _sync(homeserver, carol, carols_since)["device_lists"]["changed"] == [], "carol shares no room with bob"

    unchanged = homeserver.get(f"{KEYS}/changes?from={until}&to={until}", token=alice).json
    assert unchanged == {"changed": [], "left": []}
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/leave", token=bob, json={})
    after_leave = _sync(homeserver, alice)["next_batch"]
    left = homeserver.get(f"{KEYS}/changes?from={until}&to={after_leave}", token=alice).json
    assert left == {"changed": [], "left": ["@bob:test.local"]}
    bad = homeserver.get(f"{KEYS}/changes?from=nonsense&to={until}", token=alice)
    assert (bad.status_code, bad.json["errcode"]) == (400, "M_INVALID_PARAM")
    missing = homeserver.get(f"{KEYS}/changes?from={until}", token=alice)
    assert (missing.status_code, missing.json["errcode"]) == (400, "M_MISSING_PARAM")


def test_a_key_upload_is_on_the_device_list_stream_when_it_answers(homeserver: HomeserverUnderTest) -> None:
    """SyTest's "Local device key changes appear in /keys/changes": the client asks right after its upload, so
    the change must be on the stream (and in the token a sync hands out) before the upload answers, in the
    worker shape too, where another process writes the stream."""
    alice = homeserver.register("alice")["access_token"]
    bob, device = _keyed(homeserver, "bob", "BOB1")
    room_id = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={})
    since = _sync(homeserver, alice)["next_batch"]
    _upload(homeserver, bob, device_keys=device.device_keys())
    until = _sync(homeserver, alice, since)["next_batch"]
    changes = homeserver.get(f"{KEYS}/changes?from={since}&to={until}", token=alice)
    assert changes.json == {"changed": ["@bob:test.local"], "left": []}


def test_changed_device_keys_replace_the_old_ones_and_are_announced(homeserver: HomeserverUnderTest) -> None:
    """As Synapse does: new identity keys for a device replace the stored ones (clients notice the change and
    warn), and only an upload that changes something moves the device list."""
    alice, device = _keyed(homeserver, "alice", "ALICE1")
    first = device.device_keys()
    _upload(homeserver, alice, device_keys=first)

    def rows() -> int:
        with homeserver.deps.database.read() as conn:
            return len(homeserver.deps.stores.device_lists.list_changes(conn, device.user_id))

    homeserver.eventually(lambda: rows() == 2)  # the device's creation, then its keys
    _upload(homeserver, alice, device_keys=first)
    replacement = KeyedDevice(device.user_id, "ALICE1").device_keys()
    _upload(homeserver, alice, device_keys=replacement)
    homeserver.eventually(lambda: rows() == 3)
    served = _query(homeserver, alice, {device.user_id: ["ALICE1"]})["device_keys"][device.user_id]["ALICE1"]
    assert served["keys"] == replacement["keys"]


def test_a_claim_wakes_the_owners_waiting_sync_with_the_new_counts(homeserver: HomeserverUnderTest) -> None:
    """The counts are in every sync, so alone they cannot make one non-empty; a long-poll answers when they moved
    while it waited (a claim rings the owner's doorbell), and keeps waiting when they did not."""
    alice, device = _keyed(homeserver, "alice", "ALICE1")
    second = homeserver.login("alice", device_id="ALICE2")["access_token"]
    other = KeyedDevice(device.user_id, "ALICE2")
    bob = homeserver.register("bob")["access_token"]
    fallback = device.fallback_key()
    _upload(homeserver, alice, device_keys=device.device_keys(), one_time_keys=device.one_time_keys(1),
            fallback_keys=fallback)
    _upload(homeserver, second, device_keys=other.device_keys(), one_time_keys=other.one_time_keys(1))
    since = settled_since(homeserver, alice)

    poll = LongPoll(homeserver, alice, f"{SYNC}?since={since}&timeout=20000")
    assert _claim(homeserver, bob, device.user_id, "ALICE2")
    assert poll.waiting, "another device's count moved, not this one's: still nothing new for ALICE1"
    assert _claim(homeserver, bob, device.user_id, "ALICE1")
    answered = poll.answer(timeout=10)
    assert answered["seconds"] < 10, "woken by the claim, not by its timeout"
    assert answered["body"]["device_one_time_keys_count"] == {"signed_curve25519": 0}
    assert answered["body"]["device_unused_fallback_key_types"] == ["signed_curve25519"]

    idle = LongPoll(homeserver, alice, f"{SYNC}?since={answered['body']['next_batch']}&timeout=1500")
    assert idle.answer()["seconds"] >= 1.4, "counts the client already has do not answer a sync at once"

    poll = LongPoll(homeserver, alice, f"{SYNC}?since={answered['body']['next_batch']}&timeout=20000")
    assert _claim(homeserver, bob, device.user_id, "ALICE1") == fallback
    answered = poll.answer(timeout=10)
    assert answered["seconds"] < 10
    assert answered["body"]["device_unused_fallback_key_types"] == [], "the fallback key was used"


def test_an_upload_wakes_the_devices_waiting_sync_with_the_new_count(homeserver: HomeserverUnderTest) -> None:
    """A client uploads keys while its long-poll waits: that sync answers with the count after the upload, not
    the one from before it (else the client, seeing too few keys, uploads a second batch)."""
    alice, device = _keyed(homeserver, "alice", "ALICE1")
    since = settled_since(homeserver, alice)
    poll = LongPoll(homeserver, alice, f"{SYNC}?since={since}&timeout=20000")
    _upload(homeserver, alice, one_time_keys=device.one_time_keys(5))
    answered = poll.answer(timeout=10)
    assert answered["seconds"] < 10
    assert answered["body"]["device_one_time_keys_count"] == {"signed_curve25519": 5}
