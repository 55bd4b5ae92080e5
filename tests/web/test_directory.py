"""Room aliases, the published room directory and space hierarchies, as HTTP conversations in both shapes."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.homeserver import HomeserverUnderTest

V3 = "/_matrix/client/v3"
ALICE, BOB = "@alice:test.local", "@bob:test.local"


def _room(server: HomeserverUnderTest, token: str, **body: object) -> str:
    # A v12 room id hashes the create event, timestamp included: the fake clock moves so alike rooms differ.
    server.clock.advance(1)
    response = server.post(f"{V3}/createRoom", token=token, json=body)
    assert response.status_code == 200, response.json
    return str(response.json["room_id"])


def _alias_path(alias: str) -> str:
    return f"{V3}/directory/room/{quote(alias, safe=':')}"


def _join(server: HomeserverUnderTest, token: str, room: str) -> Any:
    return server.post(f"{V3}/join/{quote(room, safe=':')}", token=token, json={})


def _state_event(server: HomeserverUnderTest, token: str, room_id: str, event_type: str) -> Any:
    return server.get(f"{V3}/rooms/{room_id}/state/{event_type}", token=token)


def _error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json["errcode"]


def test_an_alias_is_created_resolved_listed_and_deleted(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    path = _alias_path("#hall:test.local")
    assert homeserver.put(path, token=alice, json={"room_id": room_id}).json == {}
    assert homeserver.get(path).json == {"room_id": room_id, "servers": ["test.local"]}
    assert _error(homeserver.put(path, token=alice, json={"room_id": room_id})) == (409, "M_ROOM_IN_USE")
    aliases = homeserver.get(f"{V3}/rooms/{room_id}/aliases", token=alice)
    assert aliases.json == {"aliases": ["#hall:test.local"]}
    assert homeserver.delete(path, token=alice).status_code == 200
    assert _error(homeserver.get(path)) == (404, "M_NOT_FOUND")
    assert _error(homeserver.delete(path, token=alice)) == (404, "M_NOT_FOUND")
    assert homeserver.get(f"{V3}/rooms/{room_id}/aliases", token=alice).json == {"aliases": []}


def test_only_valid_local_aliases_of_known_rooms_can_be_created(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    for alias in ("#hall:elsewhere.example", "hall:test.local", "#:test.local", "#has space:test.local"):
        refused = homeserver.put(_alias_path(alias), token=alice, json={"room_id": room_id})
        assert _error(refused) == (400, "M_INVALID_PARAM"), alias
    unknown_room = homeserver.put(_alias_path("#hall:test.local"), token=alice, json={"room_id": "!no:test.local"})
    assert _error(unknown_room) == (404, "M_NOT_FOUND")
    assert _error(homeserver.get(_alias_path("#nothing:test.local"))) == (404, "M_NOT_FOUND")
    # Another server's alias is asked of that server; a server that does not exist (NXDOMAIN) has no aliases.
    assert _error(homeserver.get(_alias_path("#hall:elsewhere.example"))) == (404, "M_NOT_FOUND")


def test_outsiders_cannot_alias_a_room_or_list_its_aliases_unless_world_readable(
    homeserver: HomeserverUnderTest,
) -> None:
    alice = homeserver.register("alice")["access_token"]
    eve = homeserver.register("eve")["access_token"]
    room_id = _room(homeserver, alice, preset="private_chat")
    assert _error(homeserver.put(_alias_path("#mine:test.local"), token=eve, json={"room_id": room_id})) == (
        403, "M_FORBIDDEN")
    assert _error(homeserver.get(f"{V3}/rooms/{room_id}/aliases", token=eve)) == (403, "M_FORBIDDEN")
    homeserver.put(f"{V3}/rooms/{room_id}/state/m.room.history_visibility", token=alice,
                   json={"history_visibility": "world_readable"})
    assert homeserver.get(f"{V3}/rooms/{room_id}/aliases", token=eve).json == {"aliases": []}


def test_an_alias_is_deleted_by_its_creator_or_a_room_moderator_only(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    carol = homeserver.register("carol")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    for token in (bob, carol):
        assert _join(homeserver, token, room_id).status_code == 200
    for name in ("bobs", "other"):
        assert homeserver.put(_alias_path(f"#{name}:test.local"), token=bob, json={"room_id": room_id}).json == {}
    assert _error(homeserver.delete(_alias_path("#bobs:test.local"), token=carol)) == (403, "M_FORBIDDEN")
    assert homeserver.delete(_alias_path("#bobs:test.local"), token=bob).status_code == 200
    assert homeserver.delete(_alias_path("#other:test.local"), token=alice).status_code == 200


def test_create_room_with_an_alias_sends_the_canonical_alias_in_spec_order(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice, room_alias_name="lobby", name="Lobby")
    assert homeserver.get(_alias_path("#lobby:test.local")).json["room_id"] == room_id
    events = homeserver.get(f"{V3}/rooms/{room_id}/state", token=alice).json
    order = [event["type"] for event in events]
    assert order[:5] == ["m.room.create", "m.room.member", "m.room.power_levels", "m.room.canonical_alias",
                         "m.room.join_rules"]
    assert _state_event(homeserver, alice, room_id, "m.room.canonical_alias").json == {
        "alias": "#lobby:test.local"}
    assert homeserver.get(f"{V3}/directory/list/room/{room_id}").json == {"visibility": "private"}


def test_create_room_with_a_taken_alias_creates_no_room(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    first = _room(homeserver, alice, room_alias_name="lobby")
    again = homeserver.post(f"{V3}/createRoom", token=alice, json={"room_alias_name": "lobby"})
    assert _error(again) == (400, "M_ROOM_IN_USE")
    assert homeserver.get(f"{V3}/joined_rooms", token=alice).json == {"joined_rooms": [first]}


def test_a_refused_room_frees_its_alias(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    refused = homeserver.post(f"{V3}/createRoom", token=alice, json={
        "room_version": "10", "room_alias_name": "lobby", "power_level_content_override": {"users": {ALICE: 0}}})
    assert refused.status_code == 403, refused.json
    assert _error(homeserver.get(_alias_path("#lobby:test.local"))) == (404, "M_NOT_FOUND")
    assert homeserver.get(f"{V3}/joined_rooms", token=alice).json == {"joined_rooms": []}


def test_canonical_alias_must_name_aliases_of_the_room(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    other_id = _room(homeserver, alice)
    homeserver.put(_alias_path("#here:test.local"), token=alice, json={"room_id": room_id})
    homeserver.put(_alias_path("#there:test.local"), token=alice, json={"room_id": other_id})
    path = f"{V3}/rooms/{room_id}/state/m.room.canonical_alias"
    for content, expected in (
        ({"alias": "#missing:test.local"}, (400, "M_BAD_ALIAS")),
        ({"alias": "#there:test.local"}, (400, "M_BAD_ALIAS")),
        ({"alias": "#here:elsewhere.example"}, (400, "M_BAD_ALIAS")),
        ({"alias": "not an alias"}, (400, "M_INVALID_PARAM")),
        ({"alias": "#here:test.local", "alt_aliases": ["#there:test.local"]}, (400, "M_BAD_ALIAS")),
        ({"alt_aliases": "#here:test.local"}, (400, "M_INVALID_PARAM")),
    ):
        assert _error(homeserver.put(path, token=alice, json=content)) == expected, content
    set_ = homeserver.put(path, token=alice, json={"alias": "#here:test.local", "alt_aliases": ["#here:test.local"]})
    assert set_.status_code == 200, set_.json
    # Deleting the alias takes it out of the canonical alias event; what stays there is not checked again.
    assert homeserver.delete(_alias_path("#here:test.local"), token=alice).status_code == 200
    assert _state_event(homeserver, alice, room_id, "m.room.canonical_alias").json == {"alt_aliases": []}
    assert homeserver.put(path, token=alice, json={}).status_code == 200


def test_join_by_local_alias(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat", room_alias_name="lobby")
    assert _join(homeserver, bob, "#lobby:test.local").json == {"room_id": room_id}
    assert homeserver.get(f"{V3}/joined_rooms", token=bob).json == {"joined_rooms": [room_id]}
    assert _error(_join(homeserver, bob, "#nowhere:test.local")) == (404, "M_NOT_FOUND")
    assert _error(_join(homeserver, bob, "#lobby:elsewhere.example")) == (404, "M_NOT_FOUND")  # no such server
    assert _error(_join(homeserver, bob, "lobby")) == (400, "M_INVALID_PARAM")


def test_directory_visibility_is_changed_by_room_moderators(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    _join(homeserver, bob, room_id)
    path = f"{V3}/directory/list/room/{room_id}"
    assert homeserver.get(path).json == {"visibility": "private"}
    assert _error(homeserver.put(path, token=bob, json={"visibility": "public"})) == (403, "M_FORBIDDEN")
    assert homeserver.put(path, token=alice, json={}).json == {}
    assert homeserver.get(path).json == {"visibility": "public"}
    assert homeserver.put(path, token=alice, json={"visibility": "private"}).status_code == 200
    assert homeserver.get(path).json == {"visibility": "private"}
    assert _error(homeserver.get(f"{V3}/directory/list/room/!nowhere:test.local")) == (404, "M_NOT_FOUND")


def test_public_rooms_are_ordered_by_members_paginated_and_searchable(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    carol = homeserver.register("carol")["access_token"]
    quiet = _room(homeserver, alice, visibility="public", name="Quiet", topic="nothing here")
    busy = _room(homeserver, alice, visibility="public", name="Busy", topic="Cheese talk", room_alias_name="busy")
    middle = _room(homeserver, alice, visibility="public", name="Middle")
    _room(homeserver, alice, preset="public_chat", name="Unlisted")
    for token in (bob, carol):
        _join(homeserver, token, busy)
    _join(homeserver, bob, middle)

    first = homeserver.get(f"{V3}/publicRooms?limit=2").json
    assert [room["room_id"] for room in first["chunk"]] == [busy, middle]
    assert first["total_room_count_estimate"] == 3 and "prev_batch" not in first
    assert first["chunk"][0] == {
        "room_id": busy, "name": "Busy", "topic": "Cheese talk", "canonical_alias": "#busy:test.local",
        "num_joined_members": 3, "world_readable": False, "guest_can_join": False, "join_rule": "public"}
    second = homeserver.get(f"{V3}/publicRooms?limit=2&since={first['next_batch']}").json
    assert [room["room_id"] for room in second["chunk"]] == [quiet] and "next_batch" not in second
    back = homeserver.get(f"{V3}/publicRooms?limit=2&since={second['prev_batch']}").json
    assert back["chunk"] == first["chunk"]

    searched = homeserver.post(f"{V3}/publicRooms", token=bob, json={"filter": {"generic_search_term": "CHEESE"}})
    assert [room["room_id"] for room in searched.json["chunk"]] == [busy]
    by_alias = homeserver.post(f"{V3}/publicRooms", token=bob, json={"filter": {"generic_search_term": "#busy"}})
    assert [room["room_id"] for room in by_alias.json["chunk"]] == [busy]
    spaces = homeserver.post(f"{V3}/publicRooms", token=bob, json={"filter": {"room_types": ["m.space"]}})
    assert spaces.json["chunk"] == []
    plain = homeserver.post(f"{V3}/publicRooms", token=bob, json={"filter": {"room_types": [None]},
                                                                     "include_all_networks": True})
    assert len(plain.json["chunk"]) == 3


def test_public_rooms_of_servers_that_do_not_exist_and_bad_parameters(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    assert homeserver.get(f"{V3}/publicRooms?server=test.local").status_code == 200
    assert homeserver.get(f"{V3}/publicRooms?server=elsewhere.example").status_code == 404
    assert homeserver.post(f"{V3}/publicRooms?server=elsewhere.example", token=alice, json={}).status_code == 404
    assert _error(homeserver.get(f"{V3}/publicRooms?server=not%20a%20server")) == (400, "M_INVALID_PARAM")
    assert _error(homeserver.get(f"{V3}/publicRooms?limit=ten")) == (400, "M_INVALID_PARAM")
    assert _error(homeserver.get(f"{V3}/publicRooms?since=bogus")) == (400, "M_INVALID_PARAM")
    both = homeserver.post(f"{V3}/publicRooms", token=alice,
                           json={"include_all_networks": True, "third_party_instance_id": "irc"})
    assert _error(both) == (400, "M_INVALID_PARAM")
    assert homeserver.post(f"{V3}/publicRooms", token=alice, json={"third_party_instance_id": "irc"}).json == {
        "chunk": [], "total_room_count_estimate": 0}


HIERARCHY = "/_matrix/client/v1/rooms/{}/hierarchy"


def _child(server: HomeserverUnderTest, token: str, space: str, child: str, **content: object) -> None:
    response = server.put(f"{V3}/rooms/{space}/state/m.space.child/{child}", token=token,
                          json={"via": ["test.local"], **content})
    assert response.status_code == 200, response.json


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.json
    return [room["room_id"] for room in response.json["rooms"]]


def test_space_hierarchy_walks_children_the_requester_may_see(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    space_type = {"type": "m.space"}
    space = _room(homeserver, alice, preset="public_chat", name="Space", creation_content=space_type)
    public = _room(homeserver, alice, preset="public_chat", name="Public")
    private = _room(homeserver, alice, preset="private_chat", name="Private")
    subspace = _room(homeserver, alice, preset="public_chat", creation_content=space_type)
    deep = _room(homeserver, alice, preset="public_chat", name="Deep")
    _child(homeserver, alice, space, public, order="b", suggested=True)
    _child(homeserver, alice, space, private, order="a")
    _child(homeserver, alice, space, subspace)
    _child(homeserver, alice, subspace, deep)
    _child(homeserver, alice, subspace, space)  # a loop, walked once
    _join(homeserver, bob, space)

    walked = homeserver.get(HIERARCHY.format(space), token=bob)
    assert _ids(walked) == [space, public, subspace, deep], "private is hidden from bob; order 'b' before none"
    root = walked.json["rooms"][0]
    assert root["room_type"] == "m.space" and root["num_joined_members"] == 2 and root["join_rule"] == "public"
    assert [child["state_key"] for child in root["children_state"]] == [private, public, subspace]
    assert root["children_state"][0]["sender"] == ALICE and "origin_server_ts" in root["children_state"][0]
    assert walked.json["rooms"][1]["children_state"] == []
    assert _ids(homeserver.get(HIERARCHY.format(space), token=alice)) == [space, private, public, subspace, deep]
    assert _ids(homeserver.get(HIERARCHY.format(space) + "?max_depth=1", token=bob)) == [space, public, subspace]
    assert _ids(homeserver.get(HIERARCHY.format(space) + "?suggested_only=true", token=bob)) == [space, public]


def test_space_hierarchy_pages_and_refuses_changed_or_bad_parameters(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    eve = homeserver.register("eve")["access_token"]
    space = _room(homeserver, alice, preset="private_chat", creation_content={"type": "m.space"})
    children = [_room(homeserver, alice, preset="private_chat") for _ in range(3)]
    for child in children:
        _child(homeserver, alice, space, child)
    base = HIERARCHY.format(space)
    seen: list[str] = []
    query = "?limit=2"
    while True:
        page = homeserver.get(base + query, token=alice)
        seen += _ids(page)
        if "next_batch" not in page.json:
            break
        query = f"?limit=2&from={page.json['next_batch']}"
    assert len(seen) == 4 and set(seen) == {space, *children}
    token = homeserver.get(base + "?limit=1", token=alice).json["next_batch"]
    assert _error(homeserver.get(base + f"?from={token}&max_depth=0", token=alice)) == (400, "M_INVALID_PARAM")
    for bad in ("limit=0", "limit=x", "max_depth=-1", "suggested_only=yes", "from=bogus"):
        assert _error(homeserver.get(f"{base}?{bad}", token=alice)) == (400, "M_INVALID_PARAM"), bad
    assert _error(homeserver.get(base, token=eve)) == (403, "M_FORBIDDEN")
    assert _error(homeserver.get(HIERARCHY.format("!nowhere:test.local"), token=eve)) == (403, "M_FORBIDDEN")
