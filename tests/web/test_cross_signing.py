"""Cross-signing: uploading the three keys (UIA only to replace them), signatures on devices and master keys,
who sees which key and signature, and the device-list changes it causes."""

from __future__ import annotations

from typing import Any

from protocol.signing import sign_json
from tests.homeserver import HomeserverUnderTest
from tests.web.key_owners import CrossSigning, KeyedDevice
from tests.web.test_sync import _room, _sync, settled_since

KEYS = "/_matrix/client/v3/keys"
DEVICE_SIGNING = f"{KEYS}/device_signing/upload"


def _account(server: HomeserverUnderTest, name: str) -> tuple[str, KeyedDevice, CrossSigning]:
    account = server.register(name, device_id=f"{name.upper()}1")
    device = KeyedDevice(account["user_id"], f"{name.upper()}1")
    response = server.post(f"{KEYS}/upload", token=account["access_token"], json={"device_keys": device.device_keys()})
    assert response.status_code == 200
    return account["access_token"], device, CrossSigning(account["user_id"])


def _set_up(server: HomeserverUnderTest, name: str) -> tuple[str, KeyedDevice, CrossSigning]:
    token, device, cross = _account(server, name)
    response = server.post(DEVICE_SIGNING, token=token, json=cross.upload_body())
    assert response.status_code == 200, response.json
    return token, device, cross


def _query(server: HomeserverUnderTest, token: str, *users: str) -> Any:
    response = server.post(f"{KEYS}/query", token=token, json={"device_keys": {user: [] for user in users}})
    assert response.status_code == 200, response.json
    return response.json


def _sign_upload(server: HomeserverUnderTest, token: str, body: dict[str, Any]) -> dict[str, Any]:
    response = server.post(f"{KEYS}/signatures/upload", token=token, json=body)
    assert response.status_code == 200, response.json
    return response.json["failures"]  # type: ignore[no-any-return]


def test_first_upload_needs_no_uia_but_replacing_does(homeserver: HomeserverUnderTest) -> None:
    token, _, cross = _set_up(homeserver, "alice")
    again = homeserver.post(DEVICE_SIGNING, token=token, json=cross.upload_body())
    assert (again.status_code, again.json) == (200, {}), "the same keys again are idempotent, without UIA"

    replacement = CrossSigning(cross.user_id)
    challenge = homeserver.post(DEVICE_SIGNING, token=token, json=replacement.upload_body())
    assert challenge.status_code == 401 and challenge.json["flows"] == [{"stages": ["m.login.password"]}]
    assert _query(homeserver, token, cross.user_id)["master_keys"][cross.user_id] == cross.master_key()
    auth = homeserver.password_auth(cross.user_id, session=challenge.json["session"])
    done = homeserver.post(DEVICE_SIGNING, token=token, json={**replacement.upload_body(), "auth": auth})
    assert done.status_code == 200, done.json
    assert _query(homeserver, token, cross.user_id)["master_keys"][cross.user_id] == replacement.master_key()


def test_keys_upload_on_the_unstable_path_as_synapse_serves_it(homeserver: HomeserverUnderTest) -> None:
    token, _, cross = _account(homeserver, "alice")
    response = homeserver.post("/_matrix/client/unstable/keys/device_signing/upload", token=token,
                               json=cross.upload_body())
    assert (response.status_code, response.json) == (200, {})
    assert _query(homeserver, token, cross.user_id)["master_keys"][cross.user_id] == cross.master_key()
    signatures = homeserver.post("/_matrix/client/unstable/keys/signatures/upload", token=token, json={})
    assert (signatures.status_code, signatures.json["failures"]) == (200, {})


def test_subkeys_need_a_master_key_and_its_signature(homeserver: HomeserverUnderTest) -> None:
    token, _, cross = _account(homeserver, "alice")
    alone = homeserver.post(DEVICE_SIGNING, token=token, json={"self_signing_key": cross.self_signing_key()})
    assert (alone.status_code, alone.json["errcode"]) == (400, "M_MISSING_PARAM")
    forged = {**cross.self_signing_key(), "signatures": {}}
    unsigned = homeserver.post(DEVICE_SIGNING, token=token, json={"master_key": cross.master_key(),
                                                                  "self_signing_key": forged})
    assert (unsigned.status_code, unsigned.json["errcode"]) == (400, "M_INVALID_SIGNATURE")
    wrong_usage = {**cross.master_key(), "usage": ["self_signing"]}
    bad = homeserver.post(DEVICE_SIGNING, token=token, json={"master_key": wrong_usage})
    assert (bad.status_code, bad.json["errcode"]) == (400, "M_BAD_JSON")
    other_user = {**cross.master_key(), "user_id": "@bob:test.local"}
    assert homeserver.post(DEVICE_SIGNING, token=token, json={"master_key": other_user}).status_code == 400
    assert _query(homeserver, token, cross.user_id)["master_keys"] == {}, "nothing was stored"


def test_user_signing_keys_are_shown_to_their_owner_only(homeserver: HomeserverUnderTest) -> None:
    alice, _, cross = _set_up(homeserver, "alice")
    bob = homeserver.register("bob")["access_token"]
    own = _query(homeserver, alice, cross.user_id)
    assert own["master_keys"] == {cross.user_id: cross.master_key()}
    assert own["self_signing_keys"] == {cross.user_id: cross.self_signing_key()}
    assert own["user_signing_keys"] == {cross.user_id: cross.user_signing_key()}
    theirs = _query(homeserver, bob, cross.user_id)
    assert theirs["master_keys"] == own["master_keys"] and theirs["self_signing_keys"] == own["self_signing_keys"]
    assert theirs["user_signing_keys"] == {}


def test_signing_own_devices_and_master_key(homeserver: HomeserverUnderTest) -> None:
    alice, device, cross = _set_up(homeserver, "alice")
    bob = homeserver.register("bob")["access_token"]
    stored = _query(homeserver, alice, cross.user_id)["device_keys"][cross.user_id][device.device_id]
    signed_device = sign_json({k: v for k, v in stored.items() if k != "unsigned"}, cross.user_id, cross.self_signing)
    signed_master = device.sign(cross.master_key())
    assert _sign_upload(homeserver, alice, {cross.user_id: {device.device_id: signed_device,
                                                              cross.public(cross.master): signed_master}}) == {}
    seen = _query(homeserver, bob, cross.user_id)
    ssk_id = f"ed25519:{cross.public(cross.self_signing)}"
    assert ssk_id in seen["device_keys"][cross.user_id][device.device_id]["signatures"][cross.user_id]
    assert f"ed25519:{device.device_id}" in seen["master_keys"][cross.user_id]["signatures"][cross.user_id]

    forged = {**signed_device, "signatures": {cross.user_id: {ssk_id: signed_master["signatures"][cross.user_id][
        f"ed25519:{device.device_id}"]}}}
    changed = sign_json({**stored, "algorithms": ["x"]}, cross.user_id, cross.self_signing)
    unknown = sign_json({**stored, "device_id": "NOPE"}, cross.user_id, cross.self_signing)
    failures = _sign_upload(homeserver, alice, {cross.user_id: {device.device_id: forged, "NOPE": unknown}})
    assert failures[cross.user_id][device.device_id]["errcode"] == "M_INVALID_SIGNATURE"
    assert failures[cross.user_id]["NOPE"]["errcode"] == "M_NOT_FOUND"
    mismatch = _sign_upload(homeserver, alice, {cross.user_id: {device.device_id: changed}})
    assert mismatch[cross.user_id][device.device_id]["errcode"] == "M_UNKNOWN"
    unsigned = _sign_upload(homeserver, alice, {cross.user_id: {device.device_id: {**stored, "signatures": {}}}})
    assert unsigned[cross.user_id][device.device_id]["errcode"] == "M_INVALID_SIGNATURE"


def test_signatures_of_other_users_are_seen_by_the_signer_only(homeserver: HomeserverUnderTest) -> None:
    alice, _, alice_cross = _set_up(homeserver, "alice")
    bob, _, bob_cross = _set_up(homeserver, "bob")
    carol = homeserver.register("carol")["access_token"]
    carol_cross = CrossSigning("@carol:test.local")
    signed = sign_json(bob_cross.master_key(), alice_cross.user_id, alice_cross.user_signing)
    bob_master = bob_cross.public(bob_cross.master)
    assert _sign_upload(homeserver, alice, {bob_cross.user_id: {bob_master: signed}}) == {}
    usk_id = f"ed25519:{alice_cross.public(alice_cross.user_signing)}"
    alices_view = _query(homeserver, alice, bob_cross.user_id)["master_keys"][bob_cross.user_id]
    assert alices_view["signatures"][alice_cross.user_id] == {usk_id: signed["signatures"][alice_cross.user_id][usk_id]}
    bobs_view = _query(homeserver, bob, bob_cross.user_id)["master_keys"][bob_cross.user_id]
    assert bobs_view == bob_cross.master_key(), "a user-signing signature is for its signer alone"

    no_usk = _sign_upload(homeserver, carol, {bob_cross.user_id: {bob_master: sign_json(
        bob_cross.master_key(), carol_cross.user_id, carol_cross.user_signing)}})
    assert no_usk[bob_cross.user_id][bob_master]["errcode"] == "M_MISSING_PARAM"
    wrong_target = _sign_upload(homeserver, alice, {bob_cross.user_id: {"SOMEDEVICE": signed}})
    assert wrong_target[bob_cross.user_id]["SOMEDEVICE"]["errcode"] == "M_NOT_FOUND"
    bad = homeserver.post(f"{KEYS}/signatures/upload", token=alice, json={"not-a-user": {}})
    assert (bad.status_code, bad.json["errcode"]) == (400, "M_BAD_JSON")


def test_cross_signing_changes_reach_room_members_syncs(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob, _, bob_cross = _account(homeserver, "bob")
    room_id = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={})
    since = _sync(homeserver, alice)["next_batch"]
    assert homeserver.post(DEVICE_SIGNING, token=bob, json=bob_cross.upload_body()).status_code == 200
    homeserver.eventually(
        lambda: _sync(homeserver, alice, since)["device_lists"]["changed"] == [bob_cross.user_id])


def test_a_new_user_signing_key_is_news_to_its_owner_only(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob, _, bob_cross = _account(homeserver, "bob")
    room_id = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={})
    before = _sync(homeserver, alice)["next_batch"]
    first = {"master_key": bob_cross.master_key(), "self_signing_key": bob_cross.self_signing_key()}
    assert homeserver.post(DEVICE_SIGNING, token=bob, json=first).status_code == 200
    seen = homeserver.eventually(lambda: (body := _sync(homeserver, alice, before))["device_lists"].get(
        "changed") == [bob_cross.user_id] and body)
    alice_since, bob_since = seen["next_batch"], _sync(homeserver, bob)["next_batch"]
    added = homeserver.post(DEVICE_SIGNING, token=bob, json={
        "user_signing_key": bob_cross.user_signing_key(), "auth": homeserver.password_auth(bob_cross.user_id)})
    assert added.status_code == 200, added.json
    homeserver.eventually(lambda: _sync(homeserver, bob, bob_since)["device_lists"].get("changed") == [
        bob_cross.user_id])
    assert bob_cross.user_id not in _sync(homeserver, alice, alice_since).get("device_lists", {}).get("changed", [])


def test_device_list_rows_tell_cross_signing_keys_from_devices(homeserver: HomeserverUnderTest) -> None:
    """A key's row holds its public key and names its type, so a federation sender can send
    m.signing_key_update for it rather than a device update; /keys/changes still lists the user."""
    carol = homeserver.register("carol")["access_token"]
    alice, device, cross = _account(homeserver, "alice")
    room_id = _room(homeserver, carol, preset="public_chat")
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=alice, json={})
    since = settled_since(homeserver, carol)

    def rows_after(after: int) -> list[tuple[str, str | None]]:
        with homeserver.deps.database.read() as conn:
            changes = homeserver.deps.stores.device_lists.list_changes(conn, cross.user_id)
        return [(change.device_id, change.cross_signing_key_type) for change in changes if change.stream_id > after]

    def last_stream_id() -> int:
        with homeserver.deps.database.read() as conn:
            return max(change.stream_id for change in homeserver.deps.stores.device_lists.list_changes(
                conn, cross.user_id))

    start = last_stream_id()
    assert homeserver.post(DEVICE_SIGNING, token=alice, json=cross.upload_body()).status_code == 200
    master, self_signing, user_signing = (cross.public(key) for key in (cross.master, cross.self_signing,
                                                                        cross.user_signing))
    homeserver.eventually(lambda: sorted(rows_after(start)) == sorted(
        [(master, "master"), (self_signing, "self_signing"), (user_signing, "user_signing")]))
    until = _sync(homeserver, carol)["next_batch"]
    changes = homeserver.get(f"{KEYS}/changes?from={since}&to={until}", token=carol).json
    assert changes == {"changed": [cross.user_id], "left": []}

    start = last_stream_id()
    stored = _query(homeserver, alice, cross.user_id)["device_keys"][cross.user_id][device.device_id]
    signed_device = sign_json({k: v for k, v in stored.items() if k != "unsigned"}, cross.user_id, cross.self_signing)
    assert _sign_upload(homeserver, alice, {cross.user_id: {device.device_id: signed_device,
                                                              master: device.sign(cross.master_key())}}) == {}
    homeserver.eventually(lambda: sorted(rows_after(start)) == sorted([(device.device_id, None), (master, "master")]))

    start = last_stream_id()
    bob, _, bob_cross = _set_up(homeserver, "bob")
    signed = sign_json(cross.master_key(), bob_cross.user_id, bob_cross.user_signing)
    assert _sign_upload(homeserver, bob, {cross.user_id: {master: signed}}) == {}
    homeserver.eventually(lambda: rows_after(start) == [(master, "master")])
