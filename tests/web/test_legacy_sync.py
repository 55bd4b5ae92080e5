"""The deprecated /initialSync, /rooms/{id}/initialSync, /events and /events/{id}, still used by some clients."""

from __future__ import annotations

import time
from typing import Any

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
    assert body["end"] and [event["sender"] for event in body["presence"]] == ["@bob:test.local"]
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
    empty = homeserver.get("/_matrix/client/v3/events?from=&timeout=0", token=alice)
    assert (empty.status_code, empty.json["chunk"]) == (200, []), "an empty from is none: from now on"


def test_events_carries_account_data_and_room_tags(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    start = homeserver.get("/_matrix/client/v3/events?timeout=0", token=alice).json["end"]
    user = "/_matrix/client/v3/user/@alice:test.local"
    homeserver.put(f"{user}/account_data/my.test.type", token=alice, json={"cats_or_rats": "cats"})
    homeserver.put(f"{user}/rooms/{room_id}/account_data/my.test.type", token=alice, json={"cats_or_rats": "rats"})
    homeserver.put(f"{user}/rooms/{room_id}/tags/work", token=alice, json={"order": 1})
    chunk = homeserver.get(f"/_matrix/client/v3/events?from={start}&timeout=0", token=alice).json["chunk"]
    assert {"type": "my.test.type", "content": {"cats_or_rats": "cats"}} in chunk
    assert {"type": "my.test.type", "content": {"cats_or_rats": "rats"}, "room_id": room_id} in chunk
    assert {"type": "m.tag", "content": {"tags": {"work": {"order": 1}}}, "room_id": room_id} in chunk


def test_events_accepts_every_token_it_and_initial_sync_hand_out(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    initial = homeserver.get("/_matrix/client/v3/initialSync", token=alice).json["end"]
    first = homeserver.get(f"/_matrix/client/v3/events?from={initial}&timeout=0", token=alice)
    assert first.status_code == 200, first.json
    event_id = _send(homeserver, alice, room_id, "hello")
    for token in (initial, first.json["start"], first.json["end"]):
        page = homeserver.get(f"/_matrix/client/v3/events?from={token}&timeout=0", token=alice)
        assert page.status_code == 200, page.json
        assert [event["event_id"] for event in page.json["chunk"]] == [event_id]


def test_events_for_a_room_the_user_may_not_read_answers_at_once(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    private = _room(homeserver, alice, preset="private_chat")
    started = time.monotonic()
    refused = homeserver.get(f"/_matrix/client/v3/events?room_id={private}&timeout=20000", token=bob)
    assert (refused.status_code, refused.json["errcode"]) == (403, "M_FORBIDDEN")
    assert time.monotonic() - started < 5, "refused without waiting out the timeout"
    unknown = homeserver.get("/_matrix/client/v3/events?room_id=!nowhere:test.local&timeout=20000", token=bob)
    assert unknown.status_code == 404
    readable = _room(homeserver, alice, preset="public_chat",
                     initial_state=[{"type": "m.room.history_visibility", "content": {
                         "history_visibility": "world_readable"}}])
    start = homeserver.get(f"/_matrix/client/v3/events?room_id={readable}&timeout=0", token=bob).json["end"]
    event_id = _send(homeserver, alice, readable, "peeked")
    _send(homeserver, alice, private, "not for bob")
    peeked = homeserver.get(f"/_matrix/client/v3/events?room_id={readable}&from={start}&timeout=0", token=bob).json
    assert [event["event_id"] for event in peeked["chunk"]] == [event_id]


def test_initial_syncs_show_presence_receipts_and_honour_limit_zero(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={})
    event_id = _send(homeserver, alice, room_id, "read me")
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/receipt/m.read/{event_id}", token=bob, json={})
    body = homeserver.get("/_matrix/client/v3/initialSync", token=alice).json
    [own] = [event for event in body["presence"] if event["content"]["user_id"] == "@alice:test.local"]
    assert own["type"] == "m.presence" and own["content"]["presence"] == "online"
    assert own["content"]["currently_active"] is True and own["content"]["last_active_ago"] >= 0
    [receipt] = body["receipts"]
    assert (receipt["type"], receipt["room_id"]) == ("m.receipt", room_id)
    assert "@bob:test.local" in receipt["content"][event_id]["m.read"]
    one = homeserver.get(f"/_matrix/client/v3/rooms/{room_id}/initialSync?limit=0", token=alice).json
    assert one["messages"]["chunk"] == [] and one["messages"]["end"]
    assert {event["content"]["user_id"] for event in one["presence"]} == {"@alice:test.local", "@bob:test.local"}
    assert one["receipts"][0]["content"][event_id]["m.read"]["@bob:test.local"]
    assert homeserver.get("/_matrix/client/v3/initialSync?limit=0", token=alice).json["rooms"][0]["messages"][
        "chunk"] == []
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/leave", token=bob, json={})
    departed = homeserver.get(f"/_matrix/client/v3/rooms/{room_id}/initialSync", token=bob).json
    assert departed["membership"] == "leave" and departed["presence"] == [] and departed["receipts"] == []


def test_legacy_send_without_txn_id_and_state_as_a_whole_event(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    sent = [homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message", token=alice,
                            json={"msgtype": "m.text", "body": "no txn"}) for _ in range(2)]
    assert [response.status_code for response in sent] == [200, 200]
    assert sent[0].json["event_id"] != sent[1].json["event_id"], "each request is its own event"
    fetched = homeserver.get(f"/_matrix/client/v3/rooms/{room_id}/event/{sent[0].json['event_id']}", token=alice)
    assert fetched.json["content"]["body"] == "no txn"
    member = f"/_matrix/client/v3/rooms/{room_id}/state/m.room.member/@alice:test.local"
    whole = homeserver.get(f"{member}?format=event", token=alice).json
    assert (whole["type"], whole["state_key"], whole["sender"]) == ("m.room.member", "@alice:test.local",
                                                                     "@alice:test.local")
    assert whole["content"]["membership"] == "join" and whole["event_id"].startswith("$")
    assert homeserver.get(f"{member}?format=content", token=alice).json == whole["content"]
    bad = homeserver.get(f"{member}?format=bogus", token=alice)
    assert (bad.status_code, bad.json["errcode"]) == (400, "M_INVALID_PARAM")


def test_events_carries_receipts_and_presence_and_takes_room_tokens(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={})
    event_id = _send(homeserver, alice, room_id, "hello")
    room_end = homeserver.get(f"/_matrix/client/v3/rooms/{room_id}/initialSync", token=bob).json["messages"]["end"]
    start = homeserver.get(f"/_matrix/client/v3/events?from={room_end}&timeout=0", token=bob)
    assert start.status_code == 200, start.json
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/receipt/m.read/{event_id}", token=alice, json={})
    homeserver.put("/_matrix/client/v3/presence/@alice:test.local/status", token=alice,
                   json={"presence": "online", "status_msg": "here"})
    chunk = homeserver.get(f"/_matrix/client/v3/events?from={start.json['end']}&timeout=0", token=bob).json["chunk"]
    [receipt] = [event for event in chunk if event["type"] == "m.receipt"]
    assert receipt["room_id"] == room_id and "@alice:test.local" in receipt["content"][event_id]["m.read"]
    presence = [event for event in chunk if event["type"] == "m.presence"]
    assert presence[-1]["content"]["user_id"] == "@alice:test.local"
    assert presence[-1]["content"]["status_msg"] == "here"


def test_guests_must_name_a_room_to_stream_events(make_homeserver: Any) -> None:
    server: HomeserverUnderTest = make_homeserver(allow_guest_access=True)
    guest = server.post("/_matrix/client/v3/register?kind=guest", json={}).json["access_token"]
    refused = server.get("/_matrix/client/v3/events?timeout=20000", token=guest)
    assert (refused.status_code, refused.json["errcode"]) == (403, "M_GUEST_ACCESS_FORBIDDEN")


def test_legacy_endpoints_serve_v1_events(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    event_id = _send(homeserver, alice, room_id, "hello")
    one = homeserver.get(f"/_matrix/client/v3/rooms/{room_id}/initialSync", token=alice).json
    members = {event["user_id"]: event for event in one["state"] if event["type"] == "m.room.member"}
    assert members["@alice:test.local"]["content"]["membership"] == "join"
    message = one["messages"]["chunk"][-1]
    assert (message["user_id"], message["age"]) == ("@alice:test.local", message["unsigned"]["age"])
    single = homeserver.get(f"/_matrix/client/v3/events/{event_id}", token=alice).json
    assert single["user_id"] == "@alice:test.local"


def test_events_carries_typing_and_takes_a_limit(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    start = homeserver.get("/_matrix/client/v3/events?timeout=0", token=alice).json["end"]
    sent = [_send(homeserver, alice, room_id, f"m{index}") for index in range(3)]
    homeserver.put(f"/_matrix/client/v3/rooms/{room_id}/typing/@alice:test.local", token=alice,
                   json={"typing": True, "timeout": 30000})
    first = homeserver.get(f"/_matrix/client/v3/events?from={start}&timeout=0&limit=2", token=alice).json
    assert [event["event_id"] for event in first["chunk"] if "event_id" in event] == sent[:2]
    rest = homeserver.get(f"/_matrix/client/v3/events?from={first['end']}&timeout=0", token=alice).json["chunk"]
    assert [event["event_id"] for event in rest if "event_id" in event] == sent[2:]
    typing = [event for event in first["chunk"] + rest if event["type"] == "m.typing"]
    assert typing and typing[-1] == {"type": "m.typing", "room_id": room_id,
                                     "content": {"user_ids": ["@alice:test.local"]}}
    for bad in ("limit=-1", "limit=many"):
        response = homeserver.get(f"/_matrix/client/v3/events?timeout=0&{bad}", token=alice)
        assert response.status_code == 400, bad
