"""Simplified sliding sync (MSC4186) as HTTP conversations in both shapes: lists, rooms, required_state, and the
per-connection state that makes responses incremental."""

from __future__ import annotations

import pytest

from ganglion.wiring import build_web_worker
from tests.homeserver import HomeserverUnderTest
from tests.web.long_poll import LongPoll
from tests.web.sliding_sync_client import SLIDING_SYNC, all_rooms, bodies, sliding_sync
from tests.web.test_sync import _room, _send
from web.app import create_app

CLIENT = "/_matrix/client/v3"


def test_versions_advertise_simplified_sliding_sync(homeserver: HomeserverUnderTest) -> None:
    features = homeserver.get("/_matrix/client/versions").json["unstable_features"]
    assert features["org.matrix.simplified_msc3575"] is True


def test_a_list_counts_every_room_and_windows_them_by_recency(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    oldest = _room(homeserver, alice, name="Oldest")
    middle = _room(homeserver, alice, name="Middle")
    newest = _room(homeserver, alice, name="Newest")
    _send(homeserver, alice, oldest, "oldest speaks last")
    homeserver.put(f"{CLIENT}/rooms/{newest}/state/m.room.topic", token=alice, json={"topic": "no bump"})
    response = sliding_sync(homeserver, alice, all_rooms(limit=1, end=1))
    assert response["lists"]["all"] == {"count": 3}
    assert set(response["rooms"]) == {oldest, newest}, "a message bumps a room; a topic change does not"
    room = response["rooms"][oldest]
    assert room["initial"] is True and room["name"] == "Oldest"
    assert bodies(room) == ["oldest speaks last"] and room["limited"] is True and room["num_live"] == 0
    assert [event["type"] for event in room["required_state"]] == ["m.room.name"]
    assert room["joined_count"] == 1 and room["invited_count"] == 0
    assert room["notification_count"] == 0 and room["highlight_count"] == 0
    assert room["bump_stamp"] > response["rooms"][newest]["bump_stamp"]
    assert middle not in response["rooms"]


def test_a_continued_connection_sends_only_what_changed(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    quiet = _room(homeserver, alice, name="Quiet")
    busy = _room(homeserver, alice, name="Busy")
    first = sliding_sync(homeserver, alice, all_rooms())
    assert set(first["rooms"]) == {quiet, busy}
    _send(homeserver, alice, busy, "news")
    homeserver.put(f"{CLIENT}/rooms/{busy}/state/m.room.name", token=alice, json={"name": "Busier"})
    second = sliding_sync(homeserver, alice, all_rooms(), pos=first["pos"])
    assert list(second["rooms"]) == [busy], "an unchanged room is left out"
    room = second["rooms"][busy]
    assert "initial" not in room and room["num_live"] == 2 and room["limited"] is False
    assert [event["type"] for event in room["timeline"]] == ["m.room.message", "m.room.name"]
    assert [event["content"] for event in room["required_state"]] == [{"name": "Busier"}]
    assert room["name"] == "Busier" and "bump_stamp" in room, "a message moved it"
    assert "joined_count" not in room, "member counts come again only when membership changed (as Synapse)"
    third = sliding_sync(homeserver, alice, all_rooms(), pos=second["pos"])
    assert third["rooms"] == {}
    assert third["lists"]["all"] == {"count": 2}


def test_retrying_a_position_answers_again_but_a_superseded_one_is_unknown(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    first = sliding_sync(homeserver, alice, all_rooms())
    _send(homeserver, alice, room_id, "once")
    lost = sliding_sync(homeserver, alice, all_rooms(), pos=first["pos"])
    retried = sliding_sync(homeserver, alice, all_rooms(), pos=first["pos"])
    assert bodies(lost["rooms"][room_id]) == bodies(retried["rooms"][room_id]) == ["once"], (
        "a client that never got a response retries from its last position and gets the same news")
    sliding_sync(homeserver, alice, all_rooms(), pos=retried["pos"])
    error = sliding_sync(homeserver, alice, all_rooms(), pos=first["pos"], status=400)
    assert error["errcode"] == "M_UNKNOWN_POS"


@pytest.mark.parametrize("pos", ["nonsense", "999999", "-1"])
def test_an_unknown_position_is_m_unknown_pos(homeserver: HomeserverUnderTest, pos: str) -> None:
    alice = homeserver.register("alice")["access_token"]
    assert sliding_sync(homeserver, alice, all_rooms(), pos=pos, status=400)["errcode"] == "M_UNKNOWN_POS"


def test_positions_belong_to_their_connection_and_user(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice)
    main = sliding_sync(homeserver, alice, {**all_rooms(), "conn_id": "main"})
    other = sliding_sync(homeserver, alice, {**all_rooms(), "conn_id": "encryption"})
    _send(homeserver, alice, room_id, "both connections see this")
    for conn_id, pos in (("main", main["pos"]), ("encryption", other["pos"])):
        response = sliding_sync(homeserver, alice, {**all_rooms(), "conn_id": conn_id}, pos=pos)
        assert bodies(response["rooms"][room_id]) == ["both connections see this"]
    assert sliding_sync(homeserver, alice, {**all_rooms(), "conn_id": "encryption"}, pos=main["pos"],
                        status=400)["errcode"] == "M_UNKNOWN_POS"
    assert sliding_sync(homeserver, bob, {**all_rooms(), "conn_id": "main"}, pos=main["pos"],
                        status=400)["errcode"] == "M_UNKNOWN_POS"
    restarted = sliding_sync(homeserver, alice, {**all_rooms(), "conn_id": "main"})
    assert restarted["rooms"][room_id]["initial"] is True, "a request without pos starts the connection afresh"
    assert sliding_sync(homeserver, alice, {**all_rooms(), "conn_id": "main"}, pos=main["pos"],
                        status=400)["errcode"] == "M_UNKNOWN_POS"


def test_a_position_expires_after_a_week(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    first = sliding_sync(homeserver, alice, all_rooms())
    homeserver.clock.advance(8 * 24 * 3600 * 1000)
    assert sliding_sync(homeserver, alice, all_rooms(), pos=first["pos"], status=400)["errcode"] == "M_UNKNOWN_POS"


def test_required_state_wildcards_me_and_lazy_members(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    homeserver.register("carol")
    room_id = _room(homeserver, alice, preset="public_chat", name="Room", topic="Topic")
    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=bob, json={}).status_code == 200
    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/invite", token=alice,
                           json={"user_id": "@carol:test.local"}).status_code == 200
    _send(homeserver, alice, room_id, "from alice")

    def state_of(required: list[list[str]], limit: int = 1) -> set[tuple[str, str]]:
        body = {"room_subscriptions": {room_id: {"required_state": required, "timeline_limit": limit}}}
        room = sliding_sync(homeserver, bob, body)["rooms"][room_id]
        return {(event["type"], event["state_key"]) for event in room["required_state"]}

    assert state_of([["m.room.member", "$ME"]]) == {("m.room.member", "@bob:test.local")}
    assert state_of([["m.room.member", "$LAZY"]]) == {("m.room.member", "@alice:test.local")}, (
        "only the timeline's senders")
    assert state_of([["m.room.member", "*"]]) == {("m.room.member", f"@{name}:test.local")
                                                 for name in ("alice", "bob", "carol")}
    assert state_of([["*", ""]]) >= {("m.room.name", ""), ("m.room.topic", ""), ("m.room.create", "")}
    assert ("m.room.member", "@bob:test.local") not in state_of([["*", ""]])
    everything = state_of([["*", "*"]])
    assert ("m.room.member", "@carol:test.local") in everything and ("m.room.topic", "") in everything


def test_lazy_members_are_sent_once_per_connection(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=bob, json={}).status_code == 200
    body = {"lists": {"all": {"ranges": [[0, 9]], "timeline_limit": 1,
                              "required_state": [["m.room.member", "$LAZY"]]}}}
    first = sliding_sync(homeserver, bob, body)
    _send(homeserver, alice, room_id, "alice speaks")
    second = sliding_sync(homeserver, bob, body, pos=first["pos"])
    assert [event["state_key"] for event in second["rooms"][room_id]["required_state"]] == ["@alice:test.local"]
    _send(homeserver, alice, room_id, "alice again")
    third = sliding_sync(homeserver, bob, body, pos=second["pos"])
    assert third["rooms"][room_id]["required_state"] == [], "the connection holds alice's membership already"


def test_asking_for_more_state_or_timeline_sends_what_the_client_lacked(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice, name="Room", topic="Topic")
    for number in range(3):
        _send(homeserver, alice, room_id, f"message {number}")
    small = {"lists": {"all": {"ranges": [[0, 0]], "timeline_limit": 1, "required_state": [["m.room.name", ""]]}}}
    first = sliding_sync(homeserver, alice, small)
    assert bodies(first["rooms"][room_id]) == ["message 2"]
    larger = {"lists": {"all": {"ranges": [[0, 0]], "timeline_limit": 1,
                                "required_state": [["m.room.name", ""], ["m.room.topic", ""]]}},
              "room_subscriptions": {room_id: {"timeline_limit": 3}}}
    second = sliding_sync(homeserver, alice, larger, pos=first["pos"])
    room = second["rooms"][room_id]
    assert bodies(room) == ["message 0", "message 1", "message 2"]
    assert room["expanded_timeline"] is True and room["unstable_expanded_timeline"] is True
    assert room["num_live"] == 0 and "initial" not in room
    assert [event["type"] for event in room["required_state"]] == ["m.room.topic"], "only the newly asked-for"


def test_list_filters(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    plain = _room(homeserver, alice)
    encrypted = _room(homeserver, alice, initial_state=[
        {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
    space = _room(homeserver, alice, creation_content={"type": "m.space"})
    homeserver.put(f"{CLIENT}/rooms/{space}/state/m.space.child/{plain}", token=alice,
                   json={"via": ["test.local"]})
    direct = _room(homeserver, bob, is_direct=True, invite=["@alice:test.local"])
    homeserver.put(f"{CLIENT}/user/@alice:test.local/rooms/{plain}/tags/m.favourite", token=alice, json={})

    def listed(**filters: object) -> set[str]:
        body = {"lists": {"only": {"ranges": [[0, 9]], "filters": filters}}}
        response = sliding_sync(homeserver, alice, body)
        assert response["lists"]["only"]["count"] == len(response["rooms"])
        return set(response["rooms"])

    assert listed() == {plain, encrypted, space, direct}
    assert listed(is_encrypted=True) == {encrypted}
    assert listed(is_invite=True) == {direct}
    assert listed(is_dm=True) == set(), "m.direct decides, not the invite's is_direct (as Synapse)"
    assert listed(room_types=["m.space"]) == {space}
    assert listed(room_types=[None]) == {plain, encrypted, direct}
    assert listed(not_room_types=["m.space"]) == {plain, encrypted, direct}
    assert listed(spaces=[space]) == {plain}
    assert listed(tags=["m.favourite"]) == {plain}
    assert listed(not_tags=["m.favourite"]) == {encrypted, space, direct}
    invite = sliding_sync(homeserver, alice, {"lists": {"i": {"ranges": [[0, 9]], "filters": {"is_invite": True}}}})
    room = invite["rooms"][direct]
    assert "is_dm" not in room and room["initial"] is True
    assert [(event["type"], event["state_key"]) for event in room["invite_state"]][-2:] == [
        ("m.room.member", "@bob:test.local"), ("m.room.member", "@alice:test.local")], "the inviter, then the invitee"
    assert room["notification_count"] == 0 and "timeline" not in room
    assert homeserver.put(f"{CLIENT}/user/@alice:test.local/account_data/m.direct", token=alice,
                          json={"@bob:test.local": [direct]}).status_code == 200
    assert listed(is_dm=True) == {direct}, "m.direct names it"


def test_a_left_room_is_listed_once_then_drops_out(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=bob, json={}).status_code == 200
    first = sliding_sync(homeserver, bob, all_rooms())
    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/leave", token=bob, json={}).status_code == 200
    _send(homeserver, alice, room_id, "after bob left")
    second = sliding_sync(homeserver, bob, all_rooms(), pos=first["pos"])
    assert second["lists"]["all"]["count"] == 1
    timeline = second["rooms"][room_id]["timeline"]
    assert timeline[-1]["content"].get("membership") == "leave", "seen up to the leave, not after"
    third = sliding_sync(homeserver, bob, all_rooms(), pos=second["pos"])
    assert third["lists"]["all"]["count"] == 0
    assert sliding_sync(homeserver, bob, all_rooms())["lists"]["all"]["count"] == 0


def test_heroes_name_an_unnamed_room(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    homeserver.put(f"{CLIENT}/profile/@bob:test.local/displayname", token=bob, json={"displayname": "Bob"})
    room_id = _room(homeserver, alice, preset="public_chat")
    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=bob, json={}).status_code == 200
    first = sliding_sync(homeserver, alice, all_rooms())
    room = first["rooms"][room_id]
    assert room["heroes"] == [{"user_id": "@bob:test.local", "displayname": "Bob"}]
    assert "name" not in room and room["joined_count"] == 2
    _send(homeserver, bob, room_id, "no membership change")
    second = sliding_sync(homeserver, alice, all_rooms(), pos=first["pos"])
    assert "heroes" not in second["rooms"][room_id] and "joined_count" not in second["rooms"][room_id]
    carol = homeserver.register("carol")["access_token"]
    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=carol, json={}).status_code == 200
    third = sliding_sync(homeserver, alice, all_rooms(), pos=second["pos"])["rooms"][room_id]
    assert [hero["user_id"] for hero in third["heroes"]] == ["@bob:test.local", "@carol:test.local"]
    assert third["joined_count"] == 3 and "bump_stamp" not in third, "a join is no bump event"


def test_unread_counts_follow_messages_and_the_users_receipt(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=bob, json={}).status_code == 200
    first = sliding_sync(homeserver, bob, all_rooms())
    event_id = _send(homeserver, alice, room_id, "hello bob")
    second = sliding_sync(homeserver, bob, all_rooms(), pos=first["pos"])
    assert second["rooms"][room_id]["notification_count"] == 1
    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/receipt/m.read/{event_id}", token=bob,
                           json={}).status_code == 200
    third = homeserver.eventually(lambda: sliding_sync(homeserver, bob, all_rooms(), pos=second["pos"])["rooms"]
                                  .get(room_id))
    assert third["notification_count"] == 0 and third["timeline"] == [], "the room comes for its counts alone"


def test_a_long_poll_wakes_for_a_new_message(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    first = sliding_sync(homeserver, alice, all_rooms())
    poll = LongPoll(homeserver, alice, f"{SLIDING_SYNC}?pos={first['pos']}&timeout=10000", method="POST",
                    json=all_rooms())
    assert poll.waiting, "nothing new: the request waits"
    _send(homeserver, alice, room_id, "wake up")
    answer = poll.answer()
    assert bodies(answer["body"]["rooms"][room_id]) == ["wake up"] and answer["seconds"] < 8


def test_an_empty_long_poll_ends_at_its_timeout_with_a_new_position(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    _room(homeserver, alice)
    first = sliding_sync(homeserver, alice, all_rooms())
    second = sliding_sync(homeserver, alice, all_rooms(), pos=first["pos"], timeout=300)
    assert second["rooms"] == {} and second["pos"] != first["pos"]


def test_another_web_process_continues_the_connection(homeserver: HomeserverUnderTest) -> None:
    if homeserver.shape != "workers":
        pytest.skip("one web process in the monolith")
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    first = sliding_sync(homeserver, alice, all_rooms())
    _send(homeserver, alice, room_id, "seen elsewhere")
    other_deps = build_web_worker(homeserver.config, homeserver.clock)
    try:
        other = create_app(homeserver.config, other_deps).test_client()
        response = other.post(f"{SLIDING_SYNC}?pos={first['pos']}", json=all_rooms(),
                              headers={"Authorization": f"Bearer {alice}"})
        assert response.status_code == 200, response.json
        assert bodies(response.json["rooms"][room_id]) == ["seen elsewhere"]
        assert "initial" not in response.json["rooms"][room_id]
    finally:
        other_deps.doorbell.close()
        other_deps.database.dispose()


def test_a_room_subscription_holds_until_unsubscribed(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    first = sliding_sync(homeserver, alice, {"room_subscriptions": {room_id: {"timeline_limit": 5}}})
    assert first["rooms"][room_id]["initial"] is True
    _send(homeserver, alice, room_id, "still subscribed")
    second = sliding_sync(homeserver, alice, {}, pos=first["pos"])
    assert bodies(second["rooms"][room_id]) == ["still subscribed"], "clients send a subscription once"
    third = sliding_sync(homeserver, alice, {"unsubscribe_rooms": [room_id]}, pos=second["pos"])
    _send(homeserver, alice, room_id, "after unsubscribing")
    fourth = sliding_sync(homeserver, alice, {}, pos=third["pos"])
    assert fourth["rooms"] == {}


def test_a_joined_invite_is_sent_whole(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, name="Invited", invite=["@bob:test.local"])
    _send(homeserver, alice, room_id, "before bob joined")
    first = sliding_sync(homeserver, bob, all_rooms())
    assert "invite_state" in first["rooms"][room_id] and "timeline" not in first["rooms"][room_id]
    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=bob, json={}).status_code == 200
    second = sliding_sync(homeserver, bob, all_rooms(), pos=first["pos"])
    room = second["rooms"][room_id]
    assert room["initial"] is True, "stripped state is not the room: the client gets it whole"
    assert "before bob joined" in bodies(room) and room["name"] == "Invited"
    assert [event["type"] for event in room["required_state"]] == ["m.room.name"]
