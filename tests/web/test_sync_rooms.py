"""A room's part of /sync (web/sync/rooms.py) in both shapes: timeline flags, the state a rejoining member sees,
the room summary, and the filter's format and limits."""

from __future__ import annotations

from tests.homeserver import HomeserverUnderTest
from tests.web.test_sync import _bodies, _room, _send, _sync

CLIENT = "/_matrix/client/v3"


def test_a_room_joined_since_the_token_is_limited(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    for number in range(3):
        _send(homeserver, alice, room_id, f"before bob {number}")
    since = _sync(homeserver, bob)["next_batch"]
    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=bob, json={}).status_code == 200
    messages_only = {"room": {"timeline": {"types": ["m.room.message"], "limit": 10}}}
    response = _sync(homeserver, bob, since, filter=messages_only)
    joined = response["rooms"]["join"][room_id]
    assert _bodies(joined) == ["before bob 0", "before bob 1", "before bob 2"]
    assert joined["timeline"]["limited"] is True, "the room's history before is the client's to page through"
    _send(homeserver, alice, room_id, "after")
    later = _sync(homeserver, bob, response["next_batch"])["rooms"]["join"][room_id]
    assert _bodies(later) == ["after"] and later["timeline"]["limited"] is False


def test_rejoining_a_joined_visibility_room_shows_the_joins_made_while_away(homeserver: HomeserverUnderTest) -> None:
    creator = homeserver.register("creator")["access_token"]
    syncer = homeserver.register("syncer")["access_token"]
    invitee = homeserver.register("invitee")["access_token"]
    room_id = _room(homeserver, creator, preset="private_chat")
    base = f"{CLIENT}/rooms/{room_id}"
    assert homeserver.post(f"{base}/invite", token=creator, json={"user_id": "@syncer:test.local"}).status_code == 200
    assert homeserver.post(f"{base}/join", token=syncer, json={}).status_code == 200
    assert homeserver.put(f"{base}/state/m.room.history_visibility", token=creator,
                          json={"history_visibility": "joined"}).status_code == 200
    assert homeserver.post(f"{base}/invite", token=creator, json={"user_id": "@invitee:test.local"}).status_code == 200
    since = _sync(homeserver, syncer)["next_batch"]
    assert homeserver.post(f"{base}/leave", token=syncer, json={}).status_code == 200
    assert homeserver.post(f"{base}/join", token=invitee, json={}).status_code == 200
    _send(homeserver, creator, room_id, "while syncer was away")
    assert homeserver.post(f"{base}/invite", token=creator, json={"user_id": "@syncer:test.local"}).status_code == 200
    assert homeserver.post(f"{base}/join", token=syncer, json={}).status_code == 200
    timeline = _sync(homeserver, syncer, since)["rooms"]["join"][room_id]["timeline"]["events"]
    assert {"state_key": "@invitee:test.local", "membership": "join"} in [
        {"state_key": event.get("state_key"), "membership": event["content"].get("membership")}
        for event in timeline], "the invitee's join is current state, shown though set while the syncer was away"
    assert "while syncer was away" not in [event["content"].get("body") for event in timeline], (
        "history visibility still hides the messages")


def test_heroes_come_only_for_rooms_without_a_name_or_alias(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    named = _room(homeserver, alice, preset="public_chat", name="Named")
    unnamed = _room(homeserver, alice, preset="public_chat")
    for room_id in (named, unnamed):
        assert homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=bob, json={}).status_code == 200
    rooms = _sync(homeserver, alice)["rooms"]["join"]
    assert rooms[named]["summary"] == {"m.joined_member_count": 2, "m.invited_member_count": 0}
    assert rooms[unnamed]["summary"]["m.heroes"] == ["@bob:test.local"]
    assert homeserver.put(f"{CLIENT}/rooms/{unnamed}/state/m.room.name", token=alice,
                          json={"name": ""}).status_code == 200
    assert _sync(homeserver, alice)["rooms"]["join"][unnamed]["summary"]["m.heroes"] == ["@bob:test.local"], (
        "an empty name is no name")


def test_the_federation_event_format_is_the_pdu_with_its_event_id(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    event_id = _send(homeserver, alice, room_id, "as federation sees it")
    body = _sync(homeserver, alice, filter={"event_format": "federation", "room": {"timeline": {"limit": 1}}})
    [event] = body["rooms"]["join"][room_id]["timeline"]["events"]
    assert event["event_id"] == event_id and event["content"]["body"] == "as federation sees it"
    assert {"room_id", "sender", "origin_server_ts", "prev_events", "auth_events", "depth", "hashes",
            "signatures"} <= set(event)
    assert "unsigned" not in event or "transaction_id" not in event["unsigned"]


def test_a_timeline_limit_of_zero_sends_state_and_no_events(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    _send(homeserver, alice, room_id, "not in a zero-length timeline")
    body = _sync(homeserver, alice, filter={"room": {"timeline": {"limit": 0},
                                                     "state": {"types": ["m.room.member"]}}})
    room = body["rooms"]["join"][room_id]
    assert room["timeline"]["events"] == [] and room["timeline"]["limited"] is True
    assert [event["state_key"] for event in room["state"]["events"]] == ["@alice:test.local"]
    stored = homeserver.post(f"{CLIENT}/user/@alice:test.local/filter", token=alice,
                             json={"room": {"timeline": {"limit": 0}}})
    assert stored.status_code == 200
    again = _sync(homeserver, alice, filter=stored.json["filter_id"])
    assert again["rooms"]["join"][room_id]["timeline"]["events"] == []

