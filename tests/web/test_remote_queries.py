"""Asking another server for a client (Client-Server API profiles, room aliases, public rooms, keys; the media
repository's remote media), between the server under test (both shapes) and a real second Ganglion,
``remote.test``, over loopback HTTP with signed requests both ways."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from PIL import Image

from tests.conftest import HomeserverFactory
from tests.homeserver import HomeserverUnderTest
from tests.web.federation_pair import REMOTE, Pair, federating_pair
from tests.web.key_owners import KeyedDevice
from tests.web.media import image_bytes, uploaded_media_id

V3 = "/_matrix/client/v3"
UNREACHABLE = "unreachable.test"


@pytest.fixture
def pair(make_homeserver: HomeserverFactory, tmp_path: Path, sqlite_template: Path) -> Iterator[Pair]:
    with federating_pair(make_homeserver, tmp_path, sqlite_template) as built:
        yield built


@pytest.fixture
def tasked_pair(make_homeserver_with_worker: HomeserverFactory, tmp_path: Path,
                sqlite_template: Path) -> Iterator[Pair]:
    """A pair whose server under test runs its tasks where they can reach ``remote.test``: inline in the
    monolith, in a Celery worker started with this pair's config in the worker shape."""
    with federating_pair(make_homeserver_with_worker, tmp_path, sqlite_template) as built:
        yield built


def _error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json["errcode"]


def test_remote_profiles_are_asked_of_their_server_and_cached_briefly(pair: Pair) -> None:
    local, remote = pair.local, pair.remote
    alice = local.register("alice")["access_token"]
    bob = remote.register("bob")
    assert remote.put(f"{V3}/profile/{quote(bob['user_id'])}/displayname", token=bob["access_token"],
                      json={"displayname": "Bob"}).status_code == 200
    path = f"{V3}/profile/{quote(bob['user_id'])}"
    assert local.get(path, token=alice).json == {"displayname": "Bob"}
    assert local.get(f"{path}/displayname", token=alice).json == {"displayname": "Bob"}
    assert local.get(f"{path}/avatar_url", token=alice).json == {}
    remote.put(f"{V3}/profile/{quote(bob['user_id'])}/displayname", token=bob["access_token"],
               json={"displayname": "Robert"})
    assert local.get(path).json == {"displayname": "Bob"}, "cached for a minute"
    local.clock.advance(60_001)
    assert local.get(path).json == {"displayname": "Robert"}
    assert _error(local.get(f"{V3}/profile/{quote('@nobody:remote.test')}")) == (404, "M_NOT_FOUND")


def test_remote_aliases_resolve_through_their_server(pair: Pair) -> None:
    local, remote = pair.local, pair.remote
    bob = remote.register("bob")["access_token"]
    created = remote.post(f"{V3}/createRoom", token=bob, json={"room_alias_name": "hall", "preset": "public_chat"})
    assert created.status_code == 200, created.json
    found = local.get(f"{V3}/directory/room/{quote('#hall:remote.test')}")
    assert (found.status_code, found.json) == (200, {"room_id": created.json["room_id"], "servers": [REMOTE]})
    assert _error(local.get(f"{V3}/directory/room/{quote('#none:remote.test')}")) == (404, "M_NOT_FOUND")


def test_remote_public_room_lists_with_filters(pair: Pair) -> None:
    local, remote = pair.local, pair.remote
    alice = local.register("alice")["access_token"]
    bob = remote.register("bob")["access_token"]
    listed = {remote.post(f"{V3}/createRoom", token=bob, json={"preset": "public_chat", "visibility": "public",
                                                                "name": name}).json["room_id"]: name
              for name in ("Gardening", "Cooking")}
    answer = local.get(f"{V3}/publicRooms?server={REMOTE}")
    assert answer.status_code == 200, answer.json
    assert {room["room_id"]: room["name"] for room in answer.json["chunk"]} == listed
    page = local.get(f"{V3}/publicRooms?server={REMOTE}&limit=1")
    assert len(page.json["chunk"]) == 1 and page.json["next_batch"]
    searched = local.post(f"{V3}/publicRooms?server={REMOTE}", token=alice,
                          json={"filter": {"generic_search_term": "cook"}})
    assert [room["name"] for room in searched.json["chunk"]] == ["Cooking"]


def test_remote_keys_are_queried_and_claimed_per_server_with_failures(
        make_homeserver: HomeserverFactory, tmp_path: Path, sqlite_template: Path) -> None:
    # A second remote server, named but unreachable (a closed loopback port), must not spoil the answer.
    with federating_pair(make_homeserver, tmp_path, sqlite_template,
                         extra_hosts={UNREACHABLE: "http://127.0.0.1:9"}) as pair:
        local, remote = pair.local, pair.remote
        alice = local.register("alice")["access_token"]
        bob = remote.register("bob")
        device = KeyedDevice(bob["user_id"], bob["device_id"])
        assert remote.post(f"{V3}/keys/upload", token=bob["access_token"], json={
            "device_keys": device.device_keys(), "one_time_keys": device.one_time_keys(1),
            "fallback_keys": device.fallback_key()}).status_code == 200
        queried = local.post(f"{V3}/keys/query", token=alice, json={
            "device_keys": {bob["user_id"]: [], f"@carol:{UNREACHABLE}": []}, "timeout": 5000})
        assert queried.status_code == 200, queried.json
        assert queried.json["device_keys"][bob["user_id"]][bob["device_id"]]["keys"] == device.device_keys()["keys"]
        assert list(queried.json["failures"]) == [UNREACHABLE]
        claim = {"one_time_keys": {bob["user_id"]: {bob["device_id"]: "signed_curve25519"}}}
        first = local.post(f"{V3}/keys/claim", token=alice, json=claim)
        assert list(first.json["one_time_keys"][bob["user_id"]][bob["device_id"]]) == ["signed_curve25519:AAAA0001"]
        assert first.json["failures"] == {}
        second = local.post(f"{V3}/keys/claim", token=alice, json=claim)
        assert list(second.json["one_time_keys"][bob["user_id"]][bob["device_id"]]) == [
            "signed_curve25519:FALLBACK1"], "the one-time key went to the first claim; then the fallback key"


def _devices_held(local: HomeserverUnderTest, user_id: str) -> dict[str, Any]:
    with local.deps.database.read() as conn:
        devices = local.deps.stores.remote_devices.list_devices(conn, [user_id]).get(user_id, [])
    return {device.device_id: device for device in devices}


def _stream_id(local: HomeserverUnderTest, user_id: str) -> int | None:
    with local.deps.database.read() as conn:
        return local.deps.stores.remote_devices.get_stream_id(conn, user_id)


def test_remote_device_lists_follow_updates_and_resync_on_a_gap(tasked_pair: Pair) -> None:
    from tasks import api as tasks_api
    from web.federation.device_list_edus import receive_device_list_update, receive_signing_key_update

    local, remote = tasked_pair.local, tasked_pair.remote
    alice = local.register("alice")["access_token"]
    bob = remote.register("bob")
    bob_id, first = bob["user_id"], KeyedDevice(bob["user_id"], bob["device_id"])
    remote.post(f"{V3}/keys/upload", token=bob["access_token"], json={"device_keys": first.device_keys()})
    added = KeyedDevice(bob_id, "NEWDEVICE")
    update = {"user_id": bob_id, "device_id": "NEWDEVICE", "stream_id": 1000, "prev_id": [],
              "keys": added.device_keys(), "device_display_name": "Tablet"}
    receive_device_list_update(local.deps, REMOTE, update)
    assert _stream_id(local, bob_id) is None, "no local user shares a room with bob: not tracked"

    assert tasks_api.resync_remote_device_list(local.deps.dispatcher, bob_id) is True
    held = _stream_id(local, bob_id)
    assert held is not None and list(_devices_held(local, bob_id)) == [bob["device_id"]]
    receive_device_list_update(local.deps, "elsewhere.test", {**update, "stream_id": held + 1, "prev_id": [held]})
    assert list(_devices_held(local, bob_id)) == [bob["device_id"]], "only bob's own server speaks for him"
    receive_device_list_update(local.deps, REMOTE, {**update, "stream_id": held + 1, "prev_id": [held]})
    # Updates are applied by a task: at once in the monolith, a queue hop away in the worker shape.
    local.eventually(lambda: "NEWDEVICE" in _devices_held(local, bob_id))
    assert _devices_held(local, bob_id)["NEWDEVICE"].display_name == "Tablet"
    assert _stream_id(local, bob_id) == held + 1
    # Tracked users' keys are answered from what we hold.
    queried = local.post(f"{V3}/keys/query", token=alice, json={"device_keys": {bob_id: []}})
    assert set(queried.json["device_keys"][bob_id]) == {bob["device_id"], "NEWDEVICE"}
    # Local syncs learn of the change through our own device_lists stream.
    local.eventually(lambda: any(change.user_id == bob_id for change in _changes(local, bob_id)))

    # An update whose prev_id we never saw: one went missing, so the whole list is fetched again.
    receive_device_list_update(local.deps, REMOTE, {**update, "device_id": "OTHER", "stream_id": held + 9,
                                                     "prev_id": [held + 5], "keys": None})
    local.eventually(lambda: list(_devices_held(local, bob_id)) == [bob["device_id"]])  # the origin's own list
    assert _stream_id(local, bob_id) == held
    receive_device_list_update(local.deps, REMOTE, {**update, "device_id": bob["device_id"], "stream_id": held + 2,
                                                     "prev_id": [held], "deleted": True, "keys": None})
    local.eventually(lambda: _devices_held(local, bob_id) == {})
    forged = {**update, "stream_id": held + 3, "prev_id": [held + 2], "keys": first.device_keys()}
    receive_device_list_update(local.deps, REMOTE, forged)
    assert _stream_id(local, bob_id) == held + 2, "keys naming another device are refused"

    master = {"user_id": bob_id, "usage": ["master"], "keys": {"ed25519:base64master": "base64master"}}
    receive_signing_key_update(local.deps, REMOTE, {"user_id": bob_id, "master_key": master})
    local.eventually(lambda: local.post(f"{V3}/keys/query", token=alice, json={"device_keys": {bob_id: []}}).json[
        "master_keys"].get(bob_id) == master)


def _changes(local: HomeserverUnderTest, user_id: str) -> list[Any]:
    with local.deps.database.read() as conn:
        return local.deps.stores.device_lists.list_changes(conn, user_id)


def _remote_upload(pair: Pair, data: bytes, content_type: str = "text/plain", **kwargs: Any) -> str:
    token = pair.remote.register("bob")["access_token"]
    return uploaded_media_id(pair.remote, token, data, content_type, **kwargs)


MEDIA = "/_matrix/client/v1/media/download"
PURGE = "/_synapse/admin/v1/purge_media_cache"
FAR_FUTURE_MS = 2**52


def test_remote_media_is_fetched_once_cached_and_honours_allow_remote(tasked_pair: Pair) -> None:
    local = tasked_pair.local
    token = local.register("alice")["access_token"]
    media_id = _remote_upload(tasked_pair, b"remote bytes", filename="hello.txt")
    path = f"{MEDIA}/{REMOTE}/{media_id}"
    assert _error(local.get(f"{path}?allow_remote=false", token=token)) == (404, "M_NOT_FOUND")
    answers: list[Any] = []

    def download() -> None:
        client = local.app.test_client()
        answers.append(client.get(path, headers={"Authorization": f"Bearer {token}"}))

    threads = [threading.Thread(target=download) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [answer.status_code for answer in answers] == [200] * 4
    assert {answer.get_data() for answer in answers} == {b"remote bytes"}
    assert "hello.txt" in answers[0].headers["Content-Disposition"]
    fetches = [seen for seen in tasked_pair.remote_app.paths
               if seen.startswith("/_matrix/federation/v1/media/download/")]
    assert fetches == [f"/_matrix/federation/v1/media/download/{media_id}"], "concurrent requests fetch it once"
    cached = local.get(f"{path}?allow_remote=false", token=token)
    assert (cached.status_code, cached.get_data()) == (200, b"remote bytes")
    legacy = local.get(f"/_matrix/media/v3/download/{REMOTE}/{media_id}")
    assert legacy.get_data() == b"remote bytes"
    assert _error(local.get(f"{MEDIA}/{REMOTE}/nosuchmedia", token=token)) == (404, "M_NOT_FOUND")

    # The admin API drops the cached copy (the task's clock stamped it: a cutoff far ahead of any clock), never
    # our own media; the next request fetches it again.
    ours = uploaded_media_id(local, token, b"local bytes")
    with local.deps.database.write() as conn:
        local.deps.stores.users.update_admin(conn, f"@alice:{local.config.server_name}", True)
    purged = local.post(f"{PURGE}?before_ts={FAR_FUTURE_MS}", token=token, json={})
    assert purged.json == {"deleted": 1}
    assert _error(local.get(f"{path}?allow_remote=false", token=token)) == (404, "M_NOT_FOUND")
    assert local.get(path, token=token).get_data() == b"remote bytes"
    assert local.get(f"{MEDIA}/{local.config.server_name}/{ours}", token=token).get_data() == b"local bytes"


def test_remote_media_falls_back_to_the_legacy_endpoint(
        make_homeserver_with_worker: HomeserverFactory, tmp_path: Path, sqlite_template: Path) -> None:
    # An older server serves media unauthenticated, on the legacy endpoint only.
    with federating_pair(make_homeserver_with_worker, tmp_path, sqlite_template,
                         remote_overrides={"enable_authenticated_media": False}) as pair:
        _legacy_fallback(pair)


def _legacy_fallback(pair: Pair) -> None:
    local = pair.local
    token = local.register("alice")["access_token"]
    media_id = _remote_upload(pair, b"old server")
    served = pair.remote.app

    def older_server(environ: dict[str, Any], start_response: Any) -> Any:
        """A server from before spec v1.11: no federation media endpoints."""
        if str(environ["PATH_INFO"]).startswith("/_matrix/federation/v1/media/"):
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"}']
        return served(environ, start_response)

    pair.remote_app.target = older_server
    answer = local.get(f"{MEDIA}/{REMOTE}/{media_id}", token=token)
    assert (answer.status_code, answer.get_data()) == (200, b"old server")
    assert f"/_matrix/media/v3/download/{REMOTE}/{media_id}" in pair.remote_app.paths


def test_remote_media_past_max_upload_size_is_refused_and_not_cached(
        make_homeserver_with_worker: HomeserverFactory, tmp_path: Path, sqlite_template: Path) -> None:
    with federating_pair(make_homeserver_with_worker, tmp_path, sqlite_template, max_upload_size="1K") as pair:
        token = pair.local.register("alice")["access_token"]
        media_id = _remote_upload(pair, b"x" * 100_000)
        answer = pair.local.get(f"{MEDIA}/{REMOTE}/{media_id}", token=token)
        assert _error(answer) == (502, "M_TOO_LARGE")
        with pair.local.deps.database.read() as conn:
            assert pair.local.deps.stores.remote_media.get_media(conn, REMOTE, media_id) is None


def test_remote_thumbnails_are_the_origins_fetched_once_per_size(tasked_pair: Pair) -> None:
    local = tasked_pair.local
    token = local.register("alice")["access_token"]
    media_id = _remote_upload(tasked_pair, image_bytes(400, 300), "image/png")
    path = f"/_matrix/client/v1/media/thumbnail/{REMOTE}/{media_id}"
    assert _error(local.get(f"{path}?width=64&height=64&method=crop&allow_remote=false", token=token)) == (
        404, "M_NOT_FOUND")
    remote_token = tasked_pair.remote.login("bob")["access_token"]
    origins_own = tasked_pair.remote.get(f"{path}?width=64&height=64&method=crop", token=remote_token).get_data()
    for _ in range(2):
        answer = local.get(f"{path}?width=64&height=64&method=crop", token=token)
        assert answer.status_code == 200, answer.get_data()[:200]
        assert answer.headers["Content-Type"] == "image/png"
        assert answer.get_data() == origins_own, "the thumbnail the origin chose for that size and method"
    asked = [seen for seen in tasked_pair.remote_app.paths
             if seen.startswith("/_matrix/federation/v1/media/thumbnail/")]
    assert asked == [f"/_matrix/federation/v1/media/thumbnail/{media_id}"], "the second request was cached"
    scaled = local.get(f"{path}?width=100&height=100&method=scale", token=token)
    assert Image.open(io.BytesIO(scaled.get_data())).size[0] < 400, "a smaller image than the original"
    cached = local.get(f"{path}?width=64&height=64&method=crop&allow_remote=false", token=token)
    assert cached.status_code == 200
    with local.deps.database.write() as conn:
        local.deps.stores.users.update_admin(conn, f"@alice:{local.config.server_name}", True)
    assert local.post(f"{PURGE}?before_ts={FAR_FUTURE_MS}", token=token, json={}).status_code == 200
    purged = local.get(f"{path}?width=64&height=64&method=crop&allow_remote=false", token=token)
    assert _error(purged) == (404, "M_NOT_FOUND"), "a purge takes the cached thumbnails too"
    assert _error(local.get(f"{path}?width=0&height=64", token=token)) == (400, "M_INVALID_PARAM")


def test_a_remote_user_sharing_a_room_is_tracked_on_first_query_and_by_updates(tasked_pair: Pair) -> None:
    """Until joins over federation land, bob's membership is written into the room's current state directly: the
    only part of this test that is not a real conversation between the two servers."""
    from web.federation.device_list_edus import receive_device_list_update

    local, remote = tasked_pair.local, tasked_pair.remote
    alice = local.register("alice")["access_token"]
    room_id = local.post(f"{V3}/createRoom", token=alice, json={}).json["room_id"]
    bob, carol = remote.register("bob"), remote.register("carol")
    for user in (bob, carol):
        keyed = KeyedDevice(user["user_id"], user["device_id"])
        remote.post(f"{V3}/keys/upload", token=user["access_token"], json={"device_keys": keyed.device_keys()})
        with local.deps.database.write() as conn:
            local.deps.stores.state.upsert_current_state(conn, room_id, ("m.room.member", user["user_id"]),
                                                         f"$join-{user['device_id']}", "join")
    queried = local.post(f"{V3}/keys/query", token=alice, json={"device_keys": {bob["user_id"]: []}})
    assert list(queried.json["device_keys"][bob["user_id"]]) == [bob["device_id"]]
    assert _stream_id(local, bob["user_id"]) is not None, "bob shares a room with alice: now tracked"
    # An update about carol, untracked but in the room, makes us fetch her whole list (and tell alice's syncs).
    receive_device_list_update(local.deps, REMOTE, {"user_id": carol["user_id"], "device_id": "NEW",
                                                    "stream_id": 999, "prev_id": [998]})
    local.eventually(lambda: list(_devices_held(local, carol["user_id"])) == [carol["device_id"]])
    local.eventually(lambda: _changes(local, carol["user_id"]))
