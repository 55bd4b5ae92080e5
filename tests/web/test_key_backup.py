"""Server-side key backups: versions, keys and their replacement rules, etag and count, as HTTP conversations."""

from __future__ import annotations

import threading
from typing import Any

from tests.homeserver import HomeserverUnderTest

V3 = "/_matrix/client/v3"
ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2"
ROOM = "!secret:test.local"
OTHER_ROOM = "!other:test.local"


def _key(first_message_index: int = 0, forwarded_count: int = 0, is_verified: bool = False,
         ciphertext: str = "c") -> dict[str, Any]:
    return {"first_message_index": first_message_index, "forwarded_count": forwarded_count,
            "is_verified": is_verified, "session_data": {"ephemeral": "e", "ciphertext": ciphertext, "mac": "m"}}


def _create(server: HomeserverUnderTest, token: str, public_key: str = "pk1") -> str:
    response = server.post(f"{V3}/room_keys/version", token=token,
                           json={"algorithm": ALGORITHM, "auth_data": {"public_key": public_key}})
    assert response.status_code == 200, response.json
    version = response.json["version"]
    assert isinstance(version, str)
    return version


def _put_session(server: HomeserverUnderTest, token: str, version: str, session: str,
                 key: dict[str, Any], room: str = ROOM) -> Any:
    return server.put(f"{V3}/room_keys/keys/{room}/{session}?version={version}", token=token, json=key)


def _session(server: HomeserverUnderTest, token: str, version: str, session: str, room: str = ROOM) -> Any:
    response = server.get(f"{V3}/room_keys/keys/{room}/{session}?version={version}", token=token)
    assert response.status_code == 200, response.json
    return response.json


def _error(response: Any, status: int, errcode: str) -> None:
    assert (response.status_code, response.json["errcode"]) == (status, errcode), response.json


def test_a_backup_is_created_read_and_its_auth_data_replaced(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    _error(homeserver.get(f"{V3}/room_keys/version", token=alice), 404, "M_NOT_FOUND")
    version = _create(homeserver, alice)
    expected = {"algorithm": ALGORITHM, "auth_data": {"public_key": "pk1"}, "count": 0, "etag": "0",
                "version": version}
    assert homeserver.get(f"{V3}/room_keys/version", token=alice).json == expected
    assert homeserver.get(f"{V3}/room_keys/version/{version}", token=alice).json == expected
    signed = {"public_key": "pk1", "signatures": {"@alice:test.local": {"ed25519:DEV": "sig"}}}
    updated = homeserver.put(f"{V3}/room_keys/version/{version}", token=alice,
                             json={"algorithm": ALGORITHM, "auth_data": signed, "version": version})
    assert (updated.status_code, updated.json) == (200, {})
    assert homeserver.get(f"{V3}/room_keys/version", token=alice).json == {**expected, "auth_data": signed}


def test_session_data_that_is_not_an_object_is_kept_opaque_as_synapse_does(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    version = _create(homeserver, alice)
    opaque = _put_session(homeserver, alice, version, "s", {**_key(), "session_data": "anopaquestring"})
    assert opaque.status_code == 200, opaque.json
    assert _session(homeserver, alice, version, "s")["session_data"] == "anopaquestring"


def test_auth_data_that_is_not_an_object_is_kept_opaque_as_synapse_does(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    created = homeserver.post(f"{V3}/room_keys/version", token=alice,
                              json={"algorithm": ALGORITHM, "auth_data": "anopaquestring"})
    assert created.status_code == 200, created.json
    version = created.json["version"]
    assert homeserver.get(f"{V3}/room_keys/version", token=alice).json["auth_data"] == "anopaquestring"
    updated = homeserver.put(f"{V3}/room_keys/version/{version}", token=alice,
                             json={"algorithm": ALGORITHM, "auth_data": ["another", 1]})
    assert updated.status_code == 200, updated.json
    assert homeserver.get(f"{V3}/room_keys/version/{version}", token=alice).json["auth_data"] == ["another", 1]
    for missing in ({"algorithm": ALGORITHM}, {"algorithm": ALGORITHM, "auth_data": None}):
        _error(homeserver.post(f"{V3}/room_keys/version", token=alice, json=missing), 400, "M_MISSING_PARAM")


def test_updating_a_backup_checks_algorithm_body_version_and_existence(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    version = _create(homeserver, alice)
    path = f"{V3}/room_keys/version/{version}"
    _error(homeserver.put(path, token=alice, json={"algorithm": "org.example.other", "auth_data": {}}),
           400, "M_INVALID_PARAM")
    _error(homeserver.put(path, token=alice, json={"algorithm": ALGORITHM, "auth_data": {"public_key": "x"},
                                                    "version": "99"}), 400, "M_INVALID_PARAM")
    _error(homeserver.put(f"{V3}/room_keys/version/99", token=alice,
                          json={"algorithm": ALGORITHM, "auth_data": {"public_key": "x"}}), 404, "M_NOT_FOUND")
    _error(homeserver.put(path, token=alice, json={"algorithm": ALGORITHM, "auth_data": {}}), 400, "M_MISSING_PARAM")
    assert homeserver.get(path, token=alice).json["auth_data"] == {"public_key": "pk1"}


def test_backups_are_private_to_their_user(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    version = _create(homeserver, alice)
    assert _put_session(homeserver, alice, version, "s1", _key()).status_code == 200
    _error(homeserver.get(f"{V3}/room_keys/version", token=bob), 404, "M_NOT_FOUND")
    _error(homeserver.get(f"{V3}/room_keys/version/{version}", token=bob), 404, "M_NOT_FOUND")
    _error(homeserver.get(f"{V3}/room_keys/keys?version={version}", token=bob), 404, "M_NOT_FOUND")
    _error(_put_session(homeserver, bob, version, "s1", _key(is_verified=True)), 404, "M_NOT_FOUND")
    _error(homeserver.delete(f"{V3}/room_keys/version/{version}", token=bob), 404, "M_NOT_FOUND")
    bobs = _create(homeserver, bob)
    assert bobs == "1" == version, "versions are numbered per user"
    assert homeserver.get(f"{V3}/room_keys/keys?version={bobs}", token=bob).json == {"rooms": {}}
    assert _session(homeserver, alice, version, "s1") == _key()


def test_keys_round_trip_at_every_level_with_etag_and_count(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    version = _create(homeserver, alice)
    one = _put_session(homeserver, alice, version, "s1", _key(ciphertext="one"))
    assert one.status_code == 200, one.json
    assert one.json["count"] == 1 and isinstance(one.json["etag"], str)
    room = homeserver.put(f"{V3}/room_keys/keys/{ROOM}?version={version}", token=alice,
                          json={"sessions": {"s2": _key(ciphertext="two")}})
    assert room.json["count"] == 2 and room.json["etag"] != one.json["etag"]
    everything = homeserver.put(f"{V3}/room_keys/keys?version={version}", token=alice, json={"rooms": {
        ROOM: {"sessions": {"s3": _key(ciphertext="three")}},
        OTHER_ROOM: {"sessions": {"s1": _key(ciphertext="elsewhere")}}}})
    assert everything.json["count"] == 4 and everything.json["etag"] not in (one.json["etag"], room.json["etag"])
    described = homeserver.get(f"{V3}/room_keys/version", token=alice).json
    assert (described["count"], described["etag"]) == (4, everything.json["etag"])

    assert homeserver.get(f"{V3}/room_keys/keys?version={version}", token=alice).json == {"rooms": {
        ROOM: {"sessions": {"s1": _key(ciphertext="one"), "s2": _key(ciphertext="two"),
                            "s3": _key(ciphertext="three")}},
        OTHER_ROOM: {"sessions": {"s1": _key(ciphertext="elsewhere")}}}}
    assert homeserver.get(f"{V3}/room_keys/keys/{OTHER_ROOM}?version={version}", token=alice).json == {
        "sessions": {"s1": _key(ciphertext="elsewhere")}}
    assert homeserver.get(f"{V3}/room_keys/keys/!empty:test.local?version={version}", token=alice).json == {
        "sessions": {}}
    assert _session(homeserver, alice, version, "s2") == _key(ciphertext="two")
    _error(homeserver.get(f"{V3}/room_keys/keys/{ROOM}/nope?version={version}", token=alice), 404, "M_NOT_FOUND")


def test_deleting_keys_at_every_level_updates_count_and_etag(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    version = _create(homeserver, alice)
    homeserver.put(f"{V3}/room_keys/keys?version={version}", token=alice, json={"rooms": {
        ROOM: {"sessions": {"s1": _key(), "s2": _key(), "s3": _key()}},
        OTHER_ROOM: {"sessions": {"s1": _key(), "s2": _key()}}}})
    before = homeserver.get(f"{V3}/room_keys/version", token=alice).json
    assert before["count"] == 5

    one = homeserver.delete(f"{V3}/room_keys/keys/{ROOM}/s1?version={version}", token=alice)
    assert one.json["count"] == 4 and one.json["etag"] != before["etag"]
    nothing = homeserver.delete(f"{V3}/room_keys/keys/{ROOM}/s1?version={version}", token=alice)
    assert nothing.json == one.json, "deleting nothing changes nothing"
    room = homeserver.delete(f"{V3}/room_keys/keys/{ROOM}?version={version}", token=alice)
    assert room.json["count"] == 2 and room.json["etag"] != one.json["etag"]
    assert homeserver.get(f"{V3}/room_keys/keys/{ROOM}?version={version}", token=alice).json == {"sessions": {}}
    everything = homeserver.delete(f"{V3}/room_keys/keys?version={version}", token=alice)
    assert everything.json["count"] == 0 and everything.json["etag"] != room.json["etag"]
    assert homeserver.get(f"{V3}/room_keys/keys?version={version}", token=alice).json == {"rooms": {}}
    described = homeserver.get(f"{V3}/room_keys/version", token=alice).json
    assert (described["count"], described["etag"]) == (0, everything.json["etag"])


def test_a_stored_key_is_replaced_only_by_a_better_one(homeserver: HomeserverUnderTest) -> None:
    """Spec order: is_verified wins, then the lower first_message_index, then the lower forwarded_count."""
    alice = homeserver.register("alice")["access_token"]
    version = _create(homeserver, alice)
    stored = _key(first_message_index=5, forwarded_count=2, ciphertext="original")
    etag = _put_session(homeserver, alice, version, "s", stored).json["etag"]
    steps = [
        (_key(first_message_index=9, forwarded_count=2, ciphertext="later index"), False),
        (_key(first_message_index=5, forwarded_count=3, ciphertext="more forwards"), False),
        (_key(first_message_index=5, forwarded_count=2, ciphertext="same metadata"), False),
        (_key(first_message_index=5, forwarded_count=1, ciphertext="fewer forwards"), True),
        (_key(first_message_index=3, forwarded_count=9, ciphertext="earlier index"), True),
        (_key(first_message_index=9, forwarded_count=9, is_verified=True, ciphertext="verified"), True),
        (_key(first_message_index=0, forwarded_count=0, ciphertext="unverified but earlier"), False),
        (_key(first_message_index=8, forwarded_count=9, is_verified=True, ciphertext="verified earlier"), True),
    ]
    for key, replaced in steps:
        answer = _put_session(homeserver, alice, version, "s", key)
        assert answer.status_code == 200, answer.json
        assert answer.json["count"] == 1
        assert (answer.json["etag"] != etag) == replaced, key["session_data"]["ciphertext"]
        etag = answer.json["etag"]
        if replaced:
            stored = key
        assert _session(homeserver, alice, version, "s") == stored, key["session_data"]["ciphertext"]
    assert stored["session_data"]["ciphertext"] == "verified earlier"


def test_a_batch_upload_applies_the_rules_per_session(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    version = _create(homeserver, alice)
    homeserver.put(f"{V3}/room_keys/keys/{ROOM}?version={version}", token=alice,
                   json={"sessions": {"keep": _key(first_message_index=1), "swap": _key(first_message_index=7)}})
    etag = homeserver.get(f"{V3}/room_keys/version", token=alice).json["etag"]
    unchanged = homeserver.put(f"{V3}/room_keys/keys/{ROOM}?version={version}", token=alice,
                               json={"sessions": {"keep": _key(first_message_index=4)}})
    assert unchanged.json == {"etag": etag, "count": 2}
    mixed = homeserver.put(f"{V3}/room_keys/keys/{ROOM}?version={version}", token=alice, json={"sessions": {
        "keep": _key(first_message_index=4), "swap": _key(first_message_index=2), "new": _key()}})
    assert mixed.json["count"] == 3 and mixed.json["etag"] != etag
    sessions = homeserver.get(f"{V3}/room_keys/keys/{ROOM}?version={version}", token=alice).json["sessions"]
    assert sessions == {"keep": _key(first_message_index=1), "swap": _key(first_message_index=2), "new": _key()}


def test_a_large_upload_is_looked_up_in_chunks_and_counted_once(homeserver: HomeserverUnderTest) -> None:
    """More sessions than one lookup query carries: a second upload of the same keys finds every one stored."""
    alice = homeserver.register("alice")["access_token"]
    version = _create(homeserver, alice)
    rooms = {f"!room{r}:test.local": {"sessions": {f"s{n}": _key(first_message_index=2) for n in range(300)}}
             for r in range(3)}
    first = homeserver.put(f"{V3}/room_keys/keys?version={version}", token=alice, json={"rooms": rooms})
    assert (first.status_code, first.json["count"]) == (200, 900), first.json
    again = homeserver.put(f"{V3}/room_keys/keys?version={version}", token=alice, json={"rooms": rooms})
    assert again.json == first.json
    rooms["!room2:test.local"]["sessions"]["s299"] = _key(first_message_index=1)
    better = homeserver.put(f"{V3}/room_keys/keys?version={version}", token=alice, json={"rooms": rooms})
    assert better.json["count"] == 900 and better.json["etag"] != first.json["etag"]
    assert _session(homeserver, alice, version, "s299", room="!room2:test.local") == _key(first_message_index=1)


def test_writes_to_a_version_that_is_not_current_are_refused(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    _error(_put_session(homeserver, alice, "1", "s", _key()), 404, "M_NOT_FOUND")
    old = _create(homeserver, alice)
    assert _put_session(homeserver, alice, old, "s", _key(ciphertext="old")).status_code == 200
    new = _create(homeserver, alice)
    assert int(new) > int(old)
    assert homeserver.get(f"{V3}/room_keys/version", token=alice).json["version"] == new
    for response in (
        _put_session(homeserver, alice, old, "s", _key(is_verified=True)),
        homeserver.put(f"{V3}/room_keys/keys/{ROOM}?version={old}", token=alice, json={"sessions": {"t": _key()}}),
        homeserver.put(f"{V3}/room_keys/keys?version={old}", token=alice, json={"rooms": {}}),
    ):
        _error(response, 403, "M_WRONG_ROOM_KEYS_VERSION")
        assert response.json["current_version"] == new
    for unknown in ("999", "abc", "01", "-1"):
        _error(_put_session(homeserver, alice, unknown, "s", _key()), 404, "M_NOT_FOUND")
    _error(homeserver.put(f"{V3}/room_keys/keys", token=alice, json={"rooms": {}}), 400, "M_MISSING_PARAM")
    assert homeserver.get(f"{V3}/room_keys/keys?version={old}", token=alice).json == {"rooms": {
        ROOM: {"sessions": {"s": _key(ciphertext="old")}}}}, "an older version's keys stay readable"
    assert homeserver.get(f"{V3}/room_keys/keys?version={new}", token=alice).json == {"rooms": {}}


def test_a_deleted_version_is_gone_for_good(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    first = _create(homeserver, alice)
    _put_session(homeserver, alice, first, "s", _key())
    assert homeserver.delete(f"{V3}/room_keys/version/{first}", token=alice).json == {}
    assert homeserver.delete(f"{V3}/room_keys/version/{first}", token=alice).status_code == 200, \
        "deleting a deleted backup succeeds"
    _error(homeserver.delete(f"{V3}/room_keys/version/999", token=alice), 404, "M_NOT_FOUND")
    _error(homeserver.get(f"{V3}/room_keys/version", token=alice), 404, "M_NOT_FOUND")
    _error(homeserver.get(f"{V3}/room_keys/version/{first}", token=alice), 404, "M_NOT_FOUND")
    _error(homeserver.get(f"{V3}/room_keys/keys?version={first}", token=alice), 404, "M_NOT_FOUND")
    _error(homeserver.get(f"{V3}/room_keys/keys/{ROOM}/s?version={first}", token=alice), 404, "M_NOT_FOUND")
    _error(homeserver.delete(f"{V3}/room_keys/keys?version={first}", token=alice), 404, "M_NOT_FOUND")
    _error(_put_session(homeserver, alice, first, "s", _key()), 404, "M_NOT_FOUND")
    _error(homeserver.put(f"{V3}/room_keys/version/{first}", token=alice,
                          json={"algorithm": ALGORITHM, "auth_data": {"public_key": "x"}}), 404, "M_NOT_FOUND")

    second = _create(homeserver, alice)
    assert int(second) > int(first), "a deleted version's number is never handed out again"
    assert homeserver.get(f"{V3}/room_keys/version", token=alice).json["count"] == 0
    stale = _put_session(homeserver, alice, first, "s", _key())
    _error(stale, 403, "M_WRONG_ROOM_KEYS_VERSION")
    assert stale.json["current_version"] == second


def test_bad_requests_are_refused(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    version = _create(homeserver, alice)
    for body, errcode in (({"auth_data": {}}, "M_MISSING_PARAM"),
                          ({"algorithm": ALGORITHM}, "M_MISSING_PARAM"),
                          ({"algorithm": ALGORITHM, "auth_data": {}}, "M_MISSING_PARAM"),
                          ({"algorithm": "", "auth_data": {}}, "M_INVALID_PARAM")):
        _error(homeserver.post(f"{V3}/room_keys/version", token=alice, json=body), 400, errcode)
    other = homeserver.post(f"{V3}/room_keys/version", token=alice,
                            json={"algorithm": "org.example.v2", "auth_data": {"anything": 1}})
    assert other.status_code == 200, "algorithms from MSCs are stored as given"
    version = other.json["version"]
    _error(homeserver.get(f"{V3}/room_keys/keys", token=alice), 400, "M_MISSING_PARAM")
    _error(homeserver.delete(f"{V3}/room_keys/keys/{ROOM}", token=alice), 400, "M_MISSING_PARAM")
    _error(_put_session(homeserver, alice, version, "s", _key(), room="not-a-room"), 400, "M_INVALID_PARAM")
    _error(_put_session(homeserver, alice, version, "s" * 300, _key()), 400, "M_INVALID_PARAM")
    _error(homeserver.put(f"{V3}/room_keys/keys?version={version}", token=alice,
                          json={"rooms": {"not-a-room": {"sessions": {}}}}), 400, "M_BAD_JSON")
    _error(homeserver.put(f"{V3}/room_keys/keys/{ROOM}?version={version}", token=alice,
                          json={"sessions": {"s": {**_key(), "is_verified": "yes"}}}), 400, "M_BAD_JSON")
    _error(_put_session(homeserver, alice, version, "s", {**_key(), "first_message_index": -1}), 400, "M_BAD_JSON")
    assert homeserver.get(f"{V3}/room_keys/version", token=alice).json["count"] == 0


def test_guests_cannot_use_key_backup(make_homeserver: Any) -> None:
    server = make_homeserver(allow_guest_access=True)
    guest = server.post(f"{V3}/register?kind=guest", json={})
    assert guest.status_code == 200, guest.json
    _error(server.get(f"{V3}/room_keys/version", token=guest.json["access_token"]), 403, "M_GUEST_ACCESS_FORBIDDEN")


def _upload_concurrently(server: HomeserverUnderTest, token: str, bodies: list[list[tuple[str, Any]]]) -> None:
    """Each list of (path, body) is sent in order by its own client thread; all threads start together."""
    start = threading.Barrier(len(bodies))
    failures: list[Any] = []

    def run(requests: list[tuple[str, Any]]) -> None:
        client = server.app.test_client()
        start.wait()
        for path, body in requests:
            response = client.put(path, json=body, headers={"Authorization": f"Bearer {token}"})
            if response.status_code != 200:
                failures.append(response.json)

    threads = [threading.Thread(target=run, args=(requests,)) for requests in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_devices_uploading_at_once_lose_no_key_and_keep_count_and_etag_exact(
        homeserver: HomeserverUnderTest) -> None:
    """On PostgreSQL the uploads really overlap: without the user's room_keys lock two of them read the same
    count and etag and one increment is lost."""
    alice = homeserver.register("alice")["access_token"]
    version = _create(homeserver, alice)
    devices, uploads = 6, 8
    _upload_concurrently(homeserver, alice, [
        [(f"{V3}/room_keys/keys/{ROOM}/d{device}s{n}?version={version}", _key(ciphertext=f"{device}.{n}"))
         for n in range(uploads)] for device in range(devices)])
    described = homeserver.get(f"{V3}/room_keys/version", token=alice).json
    assert (described["count"], described["etag"]) == (devices * uploads, str(devices * uploads))
    sessions = homeserver.get(f"{V3}/room_keys/keys/{ROOM}?version={version}", token=alice).json["sessions"]
    assert len(sessions) == devices * uploads

    # Every device offers its own copy of one session, worst first: the best key wins whatever the interleaving.
    _upload_concurrently(homeserver, alice, [
        [(f"{V3}/room_keys/keys?version={version}",
          {"rooms": {OTHER_ROOM: {"sessions": {"contested": _key(first_message_index=10 * device + n)}}}})
         for n in reversed(range(uploads))] for device in range(devices)])
    assert _session(homeserver, alice, version, "contested", room=OTHER_ROOM) == _key(first_message_index=0)
    described = homeserver.get(f"{V3}/room_keys/version", token=alice).json
    assert described["count"] == devices * uploads + 1
    assert devices * uploads + 1 <= int(described["etag"]) <= devices * uploads + devices * uploads


def test_deactivating_the_account_deletes_its_backups(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")
    token = alice["access_token"]
    old = _create(homeserver, token)
    _put_session(homeserver, token, old, "s1", _key())
    current = _create(homeserver, token)
    _put_session(homeserver, token, current, "s2", _key())
    challenge = homeserver.post(f"{V3}/account/deactivate", token=token, json={})
    done = homeserver.post(f"{V3}/account/deactivate", token=token, json={
        "auth": homeserver.password_auth(alice["user_id"], session=challenge.json["session"])})
    assert done.status_code == 200, done.json
    store = homeserver.deps.stores.key_backups
    with homeserver.deps.database.read() as conn:
        assert store.get_current_version(conn, alice["user_id"]) is None
        for version in (old, current):
            assert store.list_keys(conn, alice["user_id"], int(version)) == {}
