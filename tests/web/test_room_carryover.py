"""Joining an upgraded room (or upgrading it) carries the user's tags over from its predecessor, in both
shapes."""

from __future__ import annotations

from tests.homeserver import HomeserverUnderTest
from tests.web.test_sync import _room

CLIENT = "/_matrix/client/v3"


def _tags(server: HomeserverUnderTest, token: str, user_id: str, room_id: str) -> dict[str, object]:
    response = server.get(f"{CLIENT}/user/{user_id}/rooms/{room_id}/tags", token=token)
    assert response.status_code == 200, response.json
    return dict(response.json["tags"])


def test_a_member_joining_the_upgraded_room_keeps_their_tags(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    old = _room(homeserver, alice, preset="public_chat", room_version="10")
    assert homeserver.post(f"{CLIENT}/rooms/{old}/join", token=bob, json={}).status_code == 200
    homeserver.put(f"{CLIENT}/user/@bob:test.local/rooms/{old}/tags/test_tag", token=bob, json={"order": 0.5})
    upgraded = homeserver.post(f"{CLIENT}/rooms/{old}/upgrade", token=alice, json={"new_version": "11"})
    assert upgraded.status_code == 200, upgraded.json
    new = upgraded.json["replacement_room"]
    assert homeserver.post(f"{CLIENT}/join/{new}", token=bob, json={}).status_code == 200
    assert _tags(homeserver, bob, "@bob:test.local", new) == {"test_tag": {"order": 0.5}}
    assert _tags(homeserver, alice, "@alice:test.local", new) == {}, "nothing for a member without tags"


def test_the_upgrader_keeps_their_tags(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    old = _room(homeserver, alice, preset="public_chat", room_version="10")
    homeserver.put(f"{CLIENT}/user/@alice:test.local/rooms/{old}/tags/u.work", token=alice, json={"order": 1})
    new = homeserver.post(f"{CLIENT}/rooms/{old}/upgrade", token=alice, json={"new_version": "11"}).json[
        "replacement_room"]
    assert _tags(homeserver, alice, "@alice:test.local", new) == {"u.work": {"order": 1}}


def test_tags_already_on_the_new_room_are_kept(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    old = _room(homeserver, alice, preset="public_chat", room_version="10")
    assert homeserver.post(f"{CLIENT}/rooms/{old}/join", token=bob, json={}).status_code == 200
    homeserver.put(f"{CLIENT}/user/@bob:test.local/rooms/{old}/tags/old_tag", token=bob, json={})
    new = homeserver.post(f"{CLIENT}/rooms/{old}/upgrade", token=alice, json={"new_version": "11"}).json[
        "replacement_room"]
    homeserver.put(f"{CLIENT}/user/@bob:test.local/rooms/{new}/tags/new_tag", token=bob, json={})
    assert homeserver.post(f"{CLIENT}/rooms/{new}/join", token=bob, json={}).status_code == 200
    assert _tags(homeserver, bob, "@bob:test.local", new) == {"new_tag": {}}
