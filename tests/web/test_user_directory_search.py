"""/user_directory/search: users sharing a room or in a public room, by user id or display name."""

from __future__ import annotations

from typing import Any

from tests.homeserver import HomeserverUnderTest
from tests.web.test_sync import _room

SEARCH = "/_matrix/client/v3/user_directory/search"


def _found(server: HomeserverUnderTest, token: str, term: str, **extra: Any) -> list[str]:
    response = server.post(SEARCH, token=token, json={"search_term": term, **extra})
    assert response.status_code == 200, response.json
    return [result["user_id"] for result in response.json["results"]]


def test_only_users_sharing_a_room_or_in_a_public_room_are_found(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    tokens = {name: homeserver.register(name)["access_token"] for name in ("bob", "carol", "dave")}
    homeserver.put("/_matrix/client/v3/profile/@bob:test.local/displayname", token=tokens["bob"],
                   json={"displayname": "Robert Tables"})
    private = _room(homeserver, alice, preset="private_chat", invite=["@bob:test.local"])
    homeserver.post(f"/_matrix/client/v3/rooms/{private}/join", token=tokens["bob"], json={})
    public = _room(homeserver, tokens["carol"], preset="public_chat")
    assert public
    homeserver.eventually(lambda: _found(homeserver, alice, "tables") == ["@bob:test.local"])
    assert _found(homeserver, alice, "ROBERT tab") == ["@bob:test.local"], "every word, any case"
    assert _found(homeserver, alice, "carol") == ["@carol:test.local"], "carol is in a public room"
    assert _found(homeserver, alice, "dave") == [], "dave shares nothing with alice"
    assert _found(homeserver, alice, "%") == [] and _found(homeserver, alice, "_") == []


def test_limits_and_search_all_users(make_homeserver: Any) -> None:
    server = make_homeserver(user_directory={"search_all_users": True})
    alice = server.register("alice")["access_token"]
    for index in range(4):
        server.register(f"user{index}")
    server.eventually(lambda: len(_found(server, alice, "user")) == 4)
    limited = server.post(SEARCH, token=alice, json={"search_term": "user", "limit": 3}).json
    assert len(limited["results"]) == 3 and limited["limited"] is True
    bad = server.post(SEARCH, token=alice, json={"search_term": "user", "limit": 0})
    assert (bad.status_code, bad.json["errcode"]) == (400, "M_INVALID_PARAM")
    missing = server.post(SEARCH, token=alice, json={})
    assert (missing.status_code, missing.json["errcode"]) == (400, "M_MISSING_PARAM")
    off = make_homeserver(user_directory={"enabled": False})
    token = off.register("eve")["access_token"]
    assert off.post(SEARCH, token=token, json={"search_term": "eve"}).json == {"limited": False, "results": []}


def test_rooms_count_as_public_while_joinable_or_world_readable(homeserver: HomeserverUnderTest) -> None:
    creator = homeserver.register("creator")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, creator, preset="private_chat", invite=["@bob:test.local"])
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={})
    homeserver.eventually(lambda: _found(homeserver, creator, "bob") == ["@bob:test.local"])
    assert _found(homeserver, bob, "bob") == [], "a private room does not list bob to himself"
    state = f"/_matrix/client/v3/rooms/{room_id}/state"
    for event_type, public, private in (("m.room.join_rules", {"join_rule": "public"}, {"join_rule": "invite"}),
                                        ("m.room.history_visibility", {"history_visibility": "world_readable"},
                                         {"history_visibility": "shared"})):
        assert homeserver.put(f"{state}/{event_type}", token=creator, json=public).status_code == 200
        assert _found(homeserver, bob, "bob") == ["@bob:test.local"], f"public by {event_type}"
        assert homeserver.put(f"{state}/{event_type}", token=creator, json=private).status_code == 200
        assert _found(homeserver, bob, "bob") == [], f"private again by {event_type}"
