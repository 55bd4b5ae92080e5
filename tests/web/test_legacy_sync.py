"""The deprecated /initialSync, /rooms/{id}/initialSync, /events and /events/{id}, still used by some clients."""

from __future__ import annotations

from tests.homeserver import HomeserverUnderTest
from tests.web.long_poll import LongPoll
from tests.web.test_sync import _room, _send


def test_initial_sync_lists_rooms_with_messages_state_and_invites(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, name="Old school", preset="public_chat", visibility="public")
    for index in range(3):
        _send(homeserver, alice, room_id, f"m{index}")
    invited = _room(homeserver, alice, preset="private_chat", invite=["@bob:test.local"])
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={})
    body = homeserver.get("/_matrix/client/v3/initialSync?limit=2", token=bob).json
    rooms = {room["room_id"]: room for room in body["rooms"]}
    joined = rooms[room_id]
    assert joined["membership"] == "join" and joined["visibility"] == "public"
    assert [event["content"].get("body") for event in joined["messages"]["chunk"]] == ["m2", None]
    assert joined["messages"]["chunk"][-1]["type"] == "m.room.member"
    assert {event["type"] for event in joined["state"]} >= {"m.room.create", "m.room.name", "m.room.member"}
    earlier = homeserver.get(f"/_matrix/client/v3/rooms/{room_id}/messages?dir=b&limit=1"
                             f"&from={joined['messages']['start']}", token=bob).json
    assert [event["content"].get("body") for event in earlier["chunk"]] == ["m1"]
    assert rooms[invited]["membership"] == "invite" and rooms[invited]["invite"]["content"]["membership"] == "invite"
    assert body["end"] and body["presence"] == []
    one = homeserver.get(f"/_matrix/client/v3/rooms/{room_id}/initialSync", token=bob).json
    assert one["room_id"] == room_id and one["membership"] == "join" and one["messages"]["chunk"]
    outsider = homeserver.register("carol")["access_token"]
    private = homeserver.get(f"/_matrix/client/v3/rooms/{invited}/initialSync", token=outsider)
    assert (private.status_code, private.json["errcode"]) == (403, "M_FORBIDDEN")


def test_events_streams_what_happened_after_from(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    start = homeserver.get("/_matrix/client/v3/initialSync?limit=0", token=alice).json["end"]
    event_id = _send(homeserver, alice, room_id, "later")
    page = homeserver.get(f"/_matrix/client/v3/events?from={start}&timeout=0", token=alice).json
    assert [event["event_id"] for event in page["chunk"]] == [event_id]
    assert homeserver.get(f"/_matrix/client/v3/events?from={page['end']}&timeout=0", token=alice).json[
        "chunk"] == []
    single = homeserver.get(f"/_matrix/client/v3/events/{event_id}", token=alice).json
    assert single["content"]["body"] == "later"
    assert homeserver.get("/_matrix/client/v3/events/$nope", token=alice).status_code == 404
    poll = LongPoll(homeserver, alice, f"/_matrix/client/v3/events?from={page['end']}&timeout=20000")
    _send(homeserver, alice, room_id, "woken")
    answered = poll.answer()
    assert [event["content"]["body"] for event in answered["body"]["chunk"]] == ["woken"]
    bad = homeserver.get("/_matrix/client/v3/events?from=nonsense", token=alice)
    assert (bad.status_code, bad.json["errcode"]) == (400, "M_INVALID_PARAM")
