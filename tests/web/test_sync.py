"""/sync and filters as HTTP conversations, in both shapes: what a client's sync loop sees."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

from tests.homeserver import HomeserverUnderTest
from tests.web.long_poll import LongPoll

SYNC = "/_matrix/client/v3/sync"


def _room(server: HomeserverUnderTest, token: str, **body: Any) -> str:
    response = server.post("/_matrix/client/v3/createRoom", token=token, json=body)
    assert response.status_code == 200, response.json
    return str(response.json["room_id"])


def _send(server: HomeserverUnderTest, token: str, room_id: str, body: str, txn: str | None = None) -> str:
    txn = txn or f"t{time.monotonic_ns()}"
    response = server.put(f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/{txn}", token=token,
                          json={"msgtype": "m.text", "body": body})
    assert response.status_code == 200, response.json
    return str(response.json["event_id"])


def _sync(server: HomeserverUnderTest, token: str, since: str | None = None, **params: Any) -> dict[str, Any]:
    query = {**({"since": since} if since else {}), **params}
    if isinstance(query.get("filter"), dict):
        query["filter"] = json.dumps(query["filter"])
    url = SYNC + ("?" + "&".join(f"{key}={quote(str(value))}" for key, value in query.items()) if query else "")
    response = server.get(url, token=token)
    assert response.status_code == 200, response.json
    return response.json  # type: ignore[no-any-return]


def settled_since(server: HomeserverUnderTest, token: str) -> str:
    """A token taken once every device change so far (registrations, logins) has reached the device_lists
    stream — a queue hop away in the worker shape — so no earlier change can still wake a sync from it."""
    def drained() -> bool:
        with server.deps.database.read() as conn:
            return not server.deps.stores.outbox.list_stale_keys(conn, "device_lists", 2**62)

    server.eventually(drained)
    return str(_sync(server, token)["next_batch"])


def _bodies(section: dict[str, Any]) -> list[str]:
    return [event["content"]["body"] for event in section["timeline"]["events"]
            if event["type"] == "m.room.message"]


def test_filters_are_numbered_per_user_and_identical_ones_shared(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    path = "/_matrix/client/v3/user/@alice:test.local/filter"
    first = {"room": {"timeline": {"limit": 5}}, "event_fields": ["type", "content.body"]}
    assert homeserver.post(path, token=alice, json=first).json == {"filter_id": "0"}
    assert homeserver.post(path, token=alice, json={"presence": {"not_types": ["*"]}}).json == {"filter_id": "1"}
    assert homeserver.post(path, token=alice, json=first).json == {"filter_id": "0"}
    assert homeserver.get(f"{path}/0", token=alice).json == first
    assert homeserver.post("/_matrix/client/v3/user/@bob:test.local/filter", token=bob,
                           json=first).json == {"filter_id": "0"}
    refused = homeserver.get(f"{path}/0", token=bob)
    assert (refused.status_code, refused.json["errcode"]) == (403, "M_FORBIDDEN")
    assert homeserver.post(path, token=bob, json=first).status_code == 403
    for unknown in ("7", "x", "01"):
        missing = homeserver.get(f"{path}/{unknown}", token=alice)
        assert (missing.status_code, missing.json["errcode"]) == (404, "M_NOT_FOUND")
    bad = homeserver.post(path, token=alice, json={"room": {"timeline": {"limit": "five"}}})
    assert (bad.status_code, bad.json["errcode"]) == (400, "M_BAD_JSON")


def test_initial_sync_has_each_joined_room_with_its_timeline(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice, name="Lobby")
    for body in ("one", "two", "three"):
        _send(homeserver, alice, room_id, body)
    synced = _sync(homeserver, alice)
    room = synced["rooms"]["join"][room_id]
    assert _bodies(room) == ["one", "two", "three"]
    types = [event["type"] for event in room["timeline"]["events"]]
    assert types[0] == "m.room.create" and room["timeline"]["limited"] is False
    assert room["state"]["events"] == [], "the whole history is in the timeline, so no state precedes it"
    assert room["summary"]["m.joined_member_count"] == 1
    assert synced["next_batch"]


def test_a_limited_timeline_comes_with_the_state_before_it_and_a_usable_prev_batch(
        homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice, name="Lobby", topic="Old")
    for index in range(6):
        _send(homeserver, alice, room_id, f"m{index}")
    room = _sync(homeserver, alice, filter={"room": {"timeline": {"limit": 2}}})["rooms"]["join"][room_id]
    assert _bodies(room) == ["m4", "m5"] and room["timeline"]["limited"] is True
    state = {(event["type"], event["state_key"]): event["content"] for event in room["state"]["events"]}
    assert state[("m.room.name", "")] == {"name": "Lobby"}
    assert state[("m.room.member", "@alice:test.local")]["membership"] == "join"
    assert ("m.room.create", "") in state
    page = homeserver.get(f"/_matrix/client/v3/rooms/{room_id}/messages?dir=b&limit=3"
                          f"&from={room['timeline']['prev_batch']}", token=alice).json
    assert [event["content"].get("body") for event in page["chunk"]] == ["m3", "m2", "m1"]


def test_incremental_sync_brings_only_what_is_new_with_the_senders_transaction_id(
        homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    other_device = homeserver.login("alice")["access_token"]
    room_id = _room(homeserver, alice)
    since = _sync(homeserver, alice)["next_batch"]
    assert _sync(homeserver, alice, since)["rooms"]["join"] == {}
    event_id = _send(homeserver, alice, room_id, "fresh", txn="my-txn")
    mine = _sync(homeserver, alice, since)
    [event] = mine["rooms"]["join"][room_id]["timeline"]["events"]
    assert (event["event_id"], event["unsigned"]["transaction_id"]) == (event_id, "my-txn")
    assert mine["rooms"]["join"][room_id]["timeline"]["limited"] is False
    [seen_elsewhere] = _sync(homeserver, other_device, since)["rooms"]["join"][room_id]["timeline"]["events"]
    assert "transaction_id" not in seen_elsewhere["unsigned"]
    assert _sync(homeserver, alice, mine["next_batch"])["rooms"]["join"] == {}


def test_invite_then_join_then_kick_move_the_room_between_sections(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, name="Secret", preset="private_chat")
    _send(homeserver, alice, room_id, "before bob")
    since = _sync(homeserver, bob)["next_batch"]
    assert homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/invite", token=alice,
                           json={"user_id": "@bob:test.local"}).status_code == 200
    invited = _sync(homeserver, bob, since)
    invite_state = invited["rooms"]["invite"][room_id]["invite_state"]["events"]
    assert {"type": "m.room.name", "state_key": "", "sender": "@alice:test.local",
            "content": {"name": "Secret"}} in invite_state
    assert [(event["state_key"], event["content"]["membership"]) for event in invite_state
            if event["type"] == "m.room.member"] == [("@alice:test.local", "join"), ("@bob:test.local", "invite")], \
        "the inviter's membership is shown, then the invite itself"
    assert room_id not in invited["rooms"]["join"]
    assert homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={}).status_code == 200
    joined = _sync(homeserver, bob, invited["next_batch"])
    room = joined["rooms"]["join"][room_id]
    everything = room["state"]["events"] + room["timeline"]["events"]
    assert any(event["type"] == "m.room.name" for event in everything), "a new join is sent in full"
    assert room["summary"]["m.joined_member_count"] == 2
    assert "m.heroes" not in room["summary"], "a named room needs no heroes"
    assert room_id not in joined["rooms"]["invite"]
    assert homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/kick", token=alice,
                           json={"user_id": "@bob:test.local", "reason": "bye"}).status_code == 200
    _send(homeserver, alice, room_id, "after bob")
    kicked = _sync(homeserver, bob, joined["next_batch"])
    left = kicked["rooms"]["leave"][room_id]
    assert left["timeline"]["events"][-1]["content"] == {"membership": "leave", "reason": "bye"}
    assert "after bob" not in _bodies(left), "nothing after the kick reaches bob"
    assert room_id not in kicked["rooms"]["join"]
    later = _sync(homeserver, bob, kicked["next_batch"])
    assert room_id not in later["rooms"]["leave"]
    assert room_id in _sync(homeserver, bob, filter={"room": {"include_leave": True}})["rooms"]["leave"]
    assert room_id not in _sync(homeserver, bob)["rooms"]["leave"]
    assert homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/forget", token=bob, json={}).status_code == 200
    assert room_id not in _sync(homeserver, bob, filter={"room": {"include_leave": True}})["rooms"]["leave"], \
        "a forgotten room is left out"


def test_lazy_loading_sends_only_the_members_who_speak(homeserver: HomeserverUnderTest) -> None:
    tokens = {name: homeserver.register(name)["access_token"] for name in ("alice", "bob", "carol")}
    room_id = _room(homeserver, tokens["alice"], preset="public_chat")
    for name in ("bob", "carol"):
        homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=tokens[name], json={})
    for index in range(3):
        _send(homeserver, tokens["bob"], room_id, f"bob {index}")
    lazy = {"room": {"timeline": {"limit": 3}, "state": {"lazy_load_members": True}}}
    room = _sync(homeserver, tokens["carol"], filter=lazy)["rooms"]["join"][room_id]
    members = {event["state_key"] for event in room["state"]["events"] if event["type"] == "m.room.member"}
    assert members == {"@bob:test.local", "@carol:test.local"}
    assert room["summary"]["m.joined_member_count"] == 3
    eager = _sync(homeserver, tokens["carol"], filter={"room": {"timeline": {"limit": 3}}})["rooms"]["join"]
    assert {event["state_key"] for event in eager[room_id]["state"]["events"]
            if event["type"] == "m.room.member"} == {"@alice:test.local", "@bob:test.local", "@carol:test.local"}


def test_a_gap_sends_the_state_that_changed_inside_it(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice, topic="Old")
    since = _sync(homeserver, alice)["next_batch"]
    homeserver.put(f"/_matrix/client/v3/rooms/{room_id}/state/m.room.topic", token=alice, json={"topic": "New"})
    for index in range(5):
        _send(homeserver, alice, room_id, f"m{index}")
    room = _sync(homeserver, alice, since, filter={"room": {"timeline": {"limit": 3}}})["rooms"]["join"][room_id]
    assert room["timeline"]["limited"] is True and _bodies(room) == ["m2", "m3", "m4"]
    assert [(event["type"], event["content"]) for event in room["state"]["events"]] == [
        ("m.room.topic", {"topic": "New"})], "only the change inside the gap, not the whole state"
    full = _sync(homeserver, alice, since, full_state="true", filter={"room": {"timeline": {"limit": 3}}})
    assert len(full["rooms"]["join"][room_id]["state"]["events"]) > 3


def test_filters_shape_what_is_returned(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    first, second = _room(homeserver, alice), _room(homeserver, alice)
    _send(homeserver, alice, first, "hello")
    upload = homeserver.post("/_matrix/client/v3/user/@alice:test.local/filter", token=alice, json={
        "event_fields": ["type", "content.body"], "room": {"rooms": [first],
                                                           "timeline": {"types": ["m.room.message"]}}})
    synced = _sync(homeserver, alice, filter=upload.json["filter_id"])
    assert list(synced["rooms"]["join"]) == [first]
    assert synced["rooms"]["join"][first]["timeline"]["events"] == [{"type": "m.room.message",
                                                                     "content": {"body": "hello"}}]
    federation = _sync(homeserver, alice, filter={"event_format": "federation", "room": {"rooms": [second]}})
    create = federation["rooms"]["join"][second]["timeline"]["events"][0]
    assert create["type"] == "m.room.create" and "hashes" in create and "signatures" in create


def test_bad_sync_parameters_are_refused(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    cases = [("since=bogus", 400, "M_INVALID_PARAM"), ("since=g%25%25", 400, "M_INVALID_PARAM"),
             ("filter=42", 404, "M_NOT_FOUND"), ("filter=%7Bnot-json", 400, "M_NOT_JSON"),
             ("filter=" + quote('{"room": {"timeline": {"limit": -1}}}'), 400, "M_BAD_JSON"),
             ("timeout=soon", 400, "M_INVALID_PARAM"), ("timeout=-5", 400, "M_INVALID_PARAM"),
             ("full_state=yes", 400, "M_INVALID_PARAM"), ("set_presence=busy", 400, "M_INVALID_PARAM")]
    for query, status, errcode in cases:
        response = homeserver.get(f"{SYNC}?{query}", token=alice)
        assert (response.status_code, response.json["errcode"]) == (status, errcode), query


def test_a_waiting_sync_wakes_when_a_message_arrives(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={})
    since = settled_since(homeserver, bob)
    poll = LongPoll(homeserver, bob, f"{SYNC}?since={since}&timeout=20000")
    assert poll.waiting, "nothing new yet: the sync waits"
    _send(homeserver, alice, room_id, "wake up")
    answered = poll.answer()
    assert _bodies(answered["body"]["rooms"]["join"][room_id]) == ["wake up"]
    assert answered["seconds"] < 10, "woken by the doorbell, not by the timeout"


def test_an_empty_long_poll_returns_at_its_timeout_with_a_usable_token(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    _room(homeserver, alice)
    since = settled_since(homeserver, alice)
    started = time.monotonic()
    waited = _sync(homeserver, alice, since, timeout=300)
    assert time.monotonic() - started >= 0.25
    assert waited["rooms"]["join"] == {}
    assert _sync(homeserver, alice, waited["next_batch"])["rooms"]["join"] == {}


def test_state_changes_carry_what_they_replaced(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice, topic="Old")
    since = _sync(homeserver, alice)["next_batch"]
    homeserver.put(f"/_matrix/client/v3/rooms/{room_id}/state/m.room.topic", token=alice, json={"topic": "New"})
    homeserver.put("/_matrix/client/v3/profile/@alice:test.local/displayname", token=alice,
                   json={"displayname": "Alice A."})
    [topic] = [event for event in _sync(homeserver, alice, since)["rooms"]["join"][room_id]["timeline"]["events"]
               if event["type"] == "m.room.topic"]
    assert topic["content"] == {"topic": "New"}
    assert topic["unsigned"]["prev_content"] == {"topic": "Old"}
    assert topic["unsigned"]["prev_sender"] == "@alice:test.local"
    state = homeserver.get(f"/_matrix/client/v3/rooms/{room_id}/state", token=alice).json
    assert next(event for event in state if event["type"] == "m.room.create")["unsigned"].get("prev_content") is None


def test_a_profile_change_reaches_the_membership_in_every_joined_room(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    rooms = [_room(homeserver, alice, preset="public_chat") for _ in range(2)]
    left = _room(homeserver, alice, preset="public_chat")
    for room_id in [*rooms, left]:
        homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={})
    homeserver.post(f"/_matrix/client/v3/rooms/{left}/leave", token=bob, json={})
    since = _sync(homeserver, alice)["next_batch"]
    homeserver.put("/_matrix/client/v3/profile/@bob:test.local/displayname", token=bob,
                   json={"displayname": "Bobby"})

    def member(room_id: str) -> dict[str, Any]:
        return homeserver.get(f"/_matrix/client/v3/rooms/{room_id}/state/m.room.member/@bob:test.local",
                              token=alice).json  # type: ignore[no-any-return]

    for room_id in rooms:
        homeserver.eventually(lambda room_id=room_id: member(room_id).get("displayname") == "Bobby")
    assert member(left)["membership"] == "leave", "no join event in a room bob left"
    timeline = _sync(homeserver, alice, since)["rooms"]["join"][rooms[0]]["timeline"]["events"]
    [change] = [event for event in timeline if event["type"] == "m.room.member"]
    assert change["content"] == {"membership": "join", "displayname": "Bobby"}
    assert change["unsigned"]["prev_content"] == {"membership": "join", "displayname": "bob"}
    since = _sync(homeserver, alice)["next_batch"]
    homeserver.put("/_matrix/client/v3/profile/@bob:test.local/displayname", token=bob,
                   json={"displayname": "Bobby"})

    def drained() -> bool:
        with homeserver.deps.database.read() as conn:
            return not any(homeserver.deps.stores.outbox.list_items(conn, "member_profiles", room_id, lock=False)
                           for room_id in rooms)

    homeserver.eventually(drained)
    assert _sync(homeserver, alice, since)["rooms"]["join"] == {}, "the same name again changes nothing"


def test_use_state_after_sends_the_state_at_the_end_of_the_timeline(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice, name="Lobby", topic="Old")
    first = _sync(homeserver, alice, use_state_after="true")
    room = first["rooms"]["join"][room_id]
    assert "state" not in room
    state = {(event["type"], event["state_key"]): event["content"] for event in room["state_after"]["events"]}
    assert state[("m.room.topic", "")] == {"topic": "Old"} and ("m.room.create", "") in state
    homeserver.put(f"/_matrix/client/v3/rooms/{room_id}/state/m.room.topic", token=alice, json={"topic": "New"})
    _send(homeserver, alice, room_id, "after the topic")
    later = _sync(homeserver, alice, first["next_batch"], **{"org.matrix.msc4222.use_state_after": "true"})
    room = later["rooms"]["join"][room_id]
    assert [(event["type"], event["content"]) for event in room["state_after"]["events"]] == [
        ("m.room.topic", {"topic": "New"})], "the change, though the timeline holds it too; nothing unchanged"
    quiet = _sync(homeserver, alice, later["next_batch"], use_state_after="true")
    assert quiet["rooms"]["join"] == {}
    plain = _sync(homeserver, alice, first["next_batch"])["rooms"]["join"][room_id]
    assert "state_after" not in plain and plain["state"]["events"] == []


def test_lazy_loading_does_not_resend_members_the_device_holds(homeserver: HomeserverUnderTest) -> None:
    tokens = {name: homeserver.register(name)["access_token"] for name in ("alice", "bob", "carol")}
    room_id = _room(homeserver, tokens["alice"], preset="public_chat")
    for name in ("bob", "carol"):
        homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=tokens[name], json={})
    _send(homeserver, tokens["bob"], room_id, "first")
    lazy = {"room": {"timeline": {"limit": 1}, "state": {"lazy_load_members": True}}}

    def members(body: dict[str, Any]) -> set[str]:
        section = body["rooms"]["join"].get(room_id, {"state": {"events": []}})
        return {event["state_key"] for event in section["state"]["events"] if event["type"] == "m.room.member"}

    first = _sync(homeserver, tokens["carol"], filter=lazy)
    assert "@bob:test.local" in members(first)
    _send(homeserver, tokens["bob"], room_id, "second")
    second = _sync(homeserver, tokens["carol"], first["next_batch"], filter=lazy)
    assert _bodies(second["rooms"]["join"][room_id]) == ["second"]
    assert members(second) == set(), "carol's device holds bob's membership since the first sync"
    _send(homeserver, tokens["alice"], room_id, "third")
    third = _sync(homeserver, tokens["carol"], second["next_batch"], filter=lazy)
    assert members(third) == {"@alice:test.local"}
    retried = _sync(homeserver, tokens["carol"], second["next_batch"], filter=lazy)
    assert members(retried) == {"@alice:test.local"}, "the response that sent alice may have been lost: again"
    _send(homeserver, tokens["alice"], room_id, "fourth")
    fourth = _sync(homeserver, tokens["carol"], retried["next_batch"], filter=lazy)
    assert _bodies(fourth["rooms"]["join"][room_id]) == ["fourth"] and members(fourth) == set()
    redundant = {"room": {"timeline": {"limit": 1},
                          "state": {"lazy_load_members": True, "include_redundant_members": True}}}
    again = _sync(homeserver, tokens["carol"], third["next_batch"], filter=redundant)
    assert "@alice:test.local" in members(again)


def test_ignored_users_events_and_invites_are_not_sent(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={})
    homeserver.put("/_matrix/client/v3/user/@bob:test.local/account_data/m.ignored_user_list", token=bob,
                   json={"ignored_users": {"@alice:test.local": {}}})
    since = _sync(homeserver, bob)["next_batch"]
    _send(homeserver, alice, room_id, "you will not see this")
    homeserver.put(f"/_matrix/client/v3/rooms/{room_id}/state/m.room.topic", token=alice, json={"topic": "Seen"})
    _send(homeserver, bob, room_id, "bob speaks")
    timeline = _sync(homeserver, bob, since)["rooms"]["join"][room_id]["timeline"]["events"]
    assert [event.get("content", {}).get("body") or event["type"] for event in timeline] == [
        "m.room.topic", "bob speaks"], "state events of ignored users still come; their messages do not"
    page = homeserver.get(f"/_matrix/client/v3/rooms/{room_id}/messages?dir=b&limit=10", token=bob).json
    assert "you will not see this" not in [event["content"].get("body") for event in page["chunk"]]
    invited = _room(homeserver, alice, preset="private_chat", invite=["@bob:test.local"])
    assert invited not in _sync(homeserver, bob)["rooms"]["invite"], "invites from ignored users are hidden"
    homeserver.put("/_matrix/client/v3/user/@bob:test.local/account_data/m.ignored_user_list", token=bob,
                   json={"ignored_users": {}})
    assert invited in _sync(homeserver, bob)["rooms"]["invite"]
