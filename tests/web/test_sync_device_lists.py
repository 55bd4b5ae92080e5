"""device_lists in incremental syncs: whose device lists changed for someone sharing a room, and who left."""

from __future__ import annotations

from typing import Any

from tests.homeserver import HomeserverUnderTest
from tests.web.test_sync import _room, _sync


def _device_lists(server: HomeserverUnderTest, token: str, since: str) -> dict[str, Any]:
    return _sync(server, token, since)["device_lists"]  # type: ignore[no-any-return]


def test_device_changes_and_arrivals_of_room_sharers_are_reported(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    homeserver.register("carol")
    room_id = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={})
    first = _sync(homeserver, alice)
    assert first["device_lists"] == {"changed": [], "left": []}, "an initial sync reports no device lists"
    since = first["next_batch"]
    homeserver.login("bob", device_id="BOBLAPTOP")
    homeserver.login("carol", device_id="CAROLPHONE")
    homeserver.eventually(lambda: _device_lists(homeserver, alice, since)["changed"] == ["@bob:test.local"])
    own = _sync(homeserver, alice)["next_batch"]
    homeserver.login("alice", device_id="ALICETABLET")
    homeserver.eventually(lambda: _device_lists(homeserver, alice, own)["changed"] == ["@alice:test.local"])
    before_join = _sync(homeserver, alice)["next_batch"]
    carol = homeserver.login("carol")["access_token"]
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=carol, json={})
    assert "@carol:test.local" in _device_lists(homeserver, alice, before_join)["changed"]


def test_users_no_longer_sharing_a_room_are_left(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    shared, other = _room(homeserver, alice, preset="public_chat"), _room(homeserver, alice, preset="public_chat")
    for room_id in (shared, other):
        homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={})
    since = _sync(homeserver, alice)["next_batch"]
    homeserver.post(f"/_matrix/client/v3/rooms/{shared}/leave", token=bob, json={})
    assert _device_lists(homeserver, alice, since)["left"] == [], "bob still shares the other room"
    homeserver.post(f"/_matrix/client/v3/rooms/{other}/leave", token=bob, json={})
    assert _device_lists(homeserver, alice, since)["left"] == ["@bob:test.local"]
    bobs_view = _sync(homeserver, bob)["next_batch"]
    homeserver.post(f"/_matrix/client/v3/rooms/{other}/join", token=bob, json={})
    homeserver.post(f"/_matrix/client/v3/rooms/{other}/leave", token=bob, json={})
    assert "@alice:test.local" in _device_lists(homeserver, bob, bobs_view)["left"], \
        "leaving a room leaves its members behind"
