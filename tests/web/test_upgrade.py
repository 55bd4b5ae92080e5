"""Room upgrades (Client-Server API, "Room Upgrades"): the replacement room, the tombstone, the restricted old room."""

from __future__ import annotations

from typing import Any

import pytest

from tests.homeserver import HomeserverUnderTest

CLIENT = "/_matrix/client/v3"


def _room(server: HomeserverUnderTest, token: str, **body: Any) -> str:
    response = server.post(f"{CLIENT}/createRoom", token=token, json=body)
    assert response.status_code == 200, response.json
    return str(response.json["room_id"])


def _state(server: HomeserverUnderTest, token: str, room_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    response = server.get(f"{CLIENT}/rooms/{room_id}/state", token=token)
    assert response.status_code == 200, response.json
    return {(event["type"], event["state_key"]): event for event in response.json}


def _upgrade(server: HomeserverUnderTest, token: str, room_id: str, **body: Any) -> str:
    response = server.post(f"{CLIENT}/rooms/{room_id}/upgrade", token=token, json=body)
    assert response.status_code == 200, response.json
    return str(response.json["replacement_room"])


def test_upgrade_copies_state_and_tombstones_the_old_room(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    old = _room(homeserver, alice, room_version="10", preset="public_chat", name="Lobby", topic="Chat here",
                creation_content={"type": "org.example.lounge"})
    homeserver.put(f"{CLIENT}/rooms/{old}/state/m.room.avatar", token=alice, json={"url": "mxc://test.local/a"})
    homeserver.put(f"{CLIENT}/rooms/{old}/state/org.example.private", token=alice, json={"kept": False})
    new = _upgrade(homeserver, alice, old, new_version="11")
    assert new != old

    state = _state(homeserver, alice, new)
    create = state[("m.room.create", "")]["content"]
    assert create["room_version"] == "11"
    assert create["type"] == "org.example.lounge"
    assert create["predecessor"]["room_id"] == old
    assert create["predecessor"]["event_id"].startswith("$")
    assert state[("m.room.name", "")]["content"] == {"name": "Lobby"}
    assert state[("m.room.topic", "")]["content"] == {"topic": "Chat here"}
    assert state[("m.room.avatar", "")]["content"] == {"url": "mxc://test.local/a"}
    assert state[("m.room.join_rules", "")]["content"] == {"join_rule": "public"}
    assert state[("m.room.guest_access", "")]["content"] == {"guest_access": "can_join"}, \
        "as Synapse, the replacement takes private_chat's guest access where the old room had no event"
    assert state[("m.room.power_levels", "")]["content"]["users"] == {"@alice:test.local": 100}
    assert ("org.example.private", "") not in state, "state outside the Matrix namespace stays behind"
    assert state[("m.room.member", "@alice:test.local")]["content"]["membership"] == "join"

    old_state = _state(homeserver, alice, old)
    tombstone = old_state[("m.room.tombstone", "")]
    assert tombstone["content"]["replacement_room"] == new
    assert tombstone["sender"] == "@alice:test.local"
    levels = old_state[("m.room.power_levels", "")]["content"]
    assert (levels["events_default"], levels["invite"]) == (50, 50)
    assert create["predecessor"]["event_id"] == tombstone["event_id"], "the predecessor names the tombstone"


def test_members_see_the_predecessor_and_successor_links(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    old = _room(homeserver, alice, preset="public_chat", name="Square")
    assert homeserver.post(f"{CLIENT}/rooms/{old}/join", token=bob, json={}).status_code == 200
    new = _upgrade(homeserver, alice, old, new_version="11")

    successor = homeserver.get(f"{CLIENT}/rooms/{old}/state/m.room.tombstone", token=bob)
    assert successor.status_code == 200
    assert successor.json["replacement_room"] == new
    denied = homeserver.put(f"{CLIENT}/rooms/{old}/send/m.room.message/late", token=bob, json={"body": "hi?"})
    assert (denied.status_code, denied.json["errcode"]) == (403, "M_FORBIDDEN")

    assert homeserver.post(f"{CLIENT}/rooms/{new}/join", token=bob, json={}).status_code == 200
    predecessor = homeserver.get(f"{CLIENT}/rooms/{new}/state/m.room.create", token=bob)
    assert predecessor.json["predecessor"]["room_id"] == old
    assert _state(homeserver, bob, new)[("m.room.name", "")]["content"] == {"name": "Square"}


def test_upgrade_to_v12_makes_the_upgrader_and_named_users_creators(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    homeserver.register("bob")
    old = _room(homeserver, alice, room_version="11", preset="private_chat", name="Vault")
    new = _upgrade(homeserver, alice, old, new_version="12", additional_creators=["@bob:test.local"])
    state = _state(homeserver, alice, new)
    create = state[("m.room.create", "")]
    assert new == "!" + create["event_id"][1:]
    assert create["content"]["predecessor"] == {"room_id": old}
    assert create["content"]["additional_creators"] == ["@bob:test.local"]
    levels = state[("m.room.power_levels", "")]["content"]
    assert "@alice:test.local" not in levels["users"] and "@bob:test.local" not in levels["users"]
    assert levels["events"]["m.room.tombstone"] == 150
    assert state[("m.room.join_rules", "")]["content"] == {"join_rule": "invite"}

    again = _upgrade(homeserver, alice, new, new_version="12")
    assert _state(homeserver, alice, again)[("m.room.create", "")]["content"]["predecessor"] == {"room_id": new}


def test_upgrade_needs_tombstone_power_and_a_known_version(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    eve = homeserver.register("eve")["access_token"]
    room = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"{CLIENT}/rooms/{room}/join", token=bob, json={})
    path = f"{CLIENT}/rooms/{room}/upgrade"

    weak = homeserver.post(path, token=bob, json={"new_version": "11"})
    assert (weak.status_code, weak.json["errcode"]) == (403, "M_FORBIDDEN")
    outsider = homeserver.post(path, token=eve, json={"new_version": "11"})
    assert (outsider.status_code, outsider.json["errcode"]) == (403, "M_FORBIDDEN")
    unknown = homeserver.post(path, token=alice, json={"new_version": "999"})
    assert (unknown.status_code, unknown.json["errcode"]) == (400, "M_UNSUPPORTED_ROOM_VERSION")
    missing = homeserver.post(f"{CLIENT}/rooms/!gone:test.local/upgrade", token=alice, json={"new_version": "11"})
    assert (missing.status_code, missing.json["errcode"]) == (404, "M_NOT_FOUND")
    assert ("m.room.tombstone", "") not in _state(homeserver, alice, room)
    assert homeserver.get(f"{CLIENT}/joined_rooms", token=alice).json == {"joined_rooms": [room]}


@pytest.mark.parametrize("old_version, new_version", [("1", "6"), ("6", "10"), ("12", "11")])
def test_upgrade_between_versions_keeps_the_room_usable(homeserver: HomeserverUnderTest, old_version: str,
                                                        new_version: str) -> None:
    alice = homeserver.register("alice")["access_token"]
    old = _room(homeserver, alice, room_version=old_version, name="Hall")
    new = _upgrade(homeserver, alice, old, new_version=new_version)
    assert _state(homeserver, alice, new)[("m.room.create", "")]["content"]["room_version"] == new_version
    sent = homeserver.put(f"{CLIENT}/rooms/{new}/send/m.room.message/t1", token=alice, json={"body": "hello"})
    assert sent.status_code == 200, sent.json
    renamed = homeserver.put(f"{CLIENT}/rooms/{new}/state/m.room.name", token=alice, json={"name": "Hall 2"})
    assert renamed.status_code == 200, renamed.json


def test_upgrade_moves_local_aliases_and_the_canonical_alias(homeserver: HomeserverUnderTest) -> None:
    token = homeserver.register("aliasowner")["access_token"]
    old = homeserver.post("/_matrix/client/v3/createRoom", token=token,
                          json={"room_version": "10", "room_alias_name": "moving"}).json["room_id"]
    alias = "#moving:test.local"
    directory = "/_matrix/client/v3/directory/room/%23moving:test.local"  # '#' escaped: it is not a fragment
    assert homeserver.get(directory).json["room_id"] == old
    new = homeserver.post(f"/_matrix/client/v3/rooms/{old}/upgrade", token=token,
                          json={"new_version": "11"}).json["replacement_room"]
    assert homeserver.get(directory).json["room_id"] == new
    state = "/_matrix/client/v3/rooms/{}/state/m.room.canonical_alias"
    assert homeserver.get(state.format(new), token=token).json == {"alias": alias}
    assert homeserver.get(state.format(old), token=token).json == {}


def test_upgrade_re_issues_bans_under_the_lifted_power_levels(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    carol = homeserver.register("carol")["access_token"]
    # A custom state event at 150 makes the upgrader (100) need lifting in the new room, then restoring.
    old = _room(homeserver, alice, room_version="10", preset="public_chat",
                power_level_content_override={"events": {"org.example.high": 150}})
    for token in (bob, carol):
        homeserver.post(f"{CLIENT}/rooms/{old}/join", token=token, json={})
    for banned, reason in (("@bob:test.local", "spam"), ("@faraway:elsewhere.example", "abuse")):
        assert homeserver.post(f"{CLIENT}/rooms/{old}/ban", token=alice,
                               json={"user_id": banned, "reason": reason}).status_code == 200
    new = _upgrade(homeserver, alice, old, new_version="11")

    state = _state(homeserver, alice, new)
    for banned, reason in (("@bob:test.local", "spam"), ("@faraway:elsewhere.example", "abuse")):
        ban = state[("m.room.member", banned)]
        assert (ban["content"], ban["sender"]) == ({"membership": "ban", "reason": reason}, "@alice:test.local")
    assert ("m.room.member", "@carol:test.local") not in state, "only bans are membership that moves"
    refused = homeserver.post(f"{CLIENT}/rooms/{new}/join", token=bob, json={})
    assert (refused.status_code, refused.json["errcode"]) == (403, "M_FORBIDDEN")
    assert homeserver.post(f"{CLIENT}/rooms/{new}/join", token=carol, json={}).status_code == 200

    timeline = homeserver.get(f"{CLIENT}/rooms/{new}/messages?dir=f&limit=50", token=alice).json["chunk"]
    order = [(event["type"], event.get("state_key")) for event in timeline]
    levels = [index for index, key in enumerate(order) if key == ("m.room.power_levels", "")]
    bans = [index for index, event in enumerate(timeline) if event["content"].get("membership") == "ban"]
    assert len(levels) == 2 and levels[0] < min(bans) and max(bans) < levels[1]
    assert timeline[levels[0]]["content"]["users"]["@alice:test.local"] == 150
    assert state[("m.room.power_levels", "")]["content"]["users"]["@alice:test.local"] == 100


def test_upgrading_a_space_takes_the_children_still_in_it(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    space = _room(homeserver, alice, room_version="10", creation_content={"type": "m.space"})
    via = {"via": ["test.local"]}
    for child, content in (("!kept:test.local", via), ("!removed:test.local", via), ("!removed:test.local", {})):
        homeserver.put(f"{CLIENT}/rooms/{space}/state/m.space.child/{child}", token=alice, json=content)
    new = _upgrade(homeserver, alice, space, new_version="11")
    state = _state(homeserver, alice, new)
    assert state[("m.room.create", "")]["content"]["type"] == "m.space"
    children = {key[1]: event["content"] for key, event in state.items() if key[0] == "m.space.child"}
    assert children == {"!kept:test.local": via}

    plain = _room(homeserver, alice, room_version="10")
    homeserver.put(f"{CLIENT}/rooms/{plain}/state/m.space.child/!kept:test.local", token=alice, json=via)
    successor = _upgrade(homeserver, alice, plain, new_version="11")
    assert not [key for key in _state(homeserver, alice, successor) if key[0] == "m.space.child"]


def test_a_published_room_is_replaced_by_its_successor_in_the_directory(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    old = _room(homeserver, alice, room_version="10", visibility="public", name="Listed")
    new = _upgrade(homeserver, alice, old, new_version="11")
    listing = f"{CLIENT}/directory/list/room"
    assert homeserver.get(f"{listing}/{old}").json == {"visibility": "private"}
    assert homeserver.get(f"{listing}/{new}").json == {"visibility": "public"}
    listed = [room["room_id"] for room in homeserver.get(f"{CLIENT}/publicRooms").json["chunk"]]
    assert listed == [new]

    unlisted = _room(homeserver, alice, room_version="10")
    successor = _upgrade(homeserver, alice, unlisted, new_version="11")
    assert homeserver.get(f"{listing}/{successor}").json == {"visibility": "private"}


def test_the_upgraders_direct_mapping_and_tags_follow_the_room(homeserver: HomeserverUnderTest) -> None:
    account = homeserver.register("alice")
    alice, user_id = account["access_token"], account["user_id"]
    old = _room(homeserver, alice, room_version="10")
    homeserver.put(f"{CLIENT}/user/{user_id}/account_data/m.direct", token=alice,
                   json={"@bob:test.local": [old, "!other:test.local"], "@carol:test.local": ["!else:test.local"]})
    homeserver.put(f"{CLIENT}/user/{user_id}/rooms/{old}/tags/m.favourite", token=alice, json={"order": 0.5})
    new = _upgrade(homeserver, alice, old, new_version="11")
    direct = homeserver.get(f"{CLIENT}/user/{user_id}/account_data/m.direct", token=alice).json
    assert direct == {"@bob:test.local": [old, "!other:test.local", new], "@carol:test.local": ["!else:test.local"]}
    tags = homeserver.get(f"{CLIENT}/user/{user_id}/rooms/{new}/tags", token=alice).json
    assert tags == {"tags": {"m.favourite": {"order": 0.5}}}
