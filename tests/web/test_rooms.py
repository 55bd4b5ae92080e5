"""Rooms through the events writer: creation, sending, state, membership — in both shapes."""

from __future__ import annotations

import itertools

import pytest

from tests.homeserver import HomeserverUnderTest

CREATE = "/_matrix/client/v3/createRoom"


def _room(server: HomeserverUnderTest, token: str, **body: object) -> str:
    response = server.post(CREATE, token=token, json=body)
    assert response.status_code == 200, response.json
    return str(response.json["room_id"])


def _state(server: HomeserverUnderTest, token: str, room_id: str) -> dict[tuple[str, str], dict]:  # type: ignore[type-arg]
    events = server.get(f"/_matrix/client/v3/rooms/{room_id}/state", token=token).json
    return {(event["type"], event["state_key"]): event for event in events}


@pytest.mark.parametrize("version", ["1", "3", "6", "10", "11", "12"])
def test_create_room_in_each_version_builds_the_spec_order(homeserver: HomeserverUnderTest, version: str) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice, room_version=version, name="Lobby", topic="Hello", preset="public_chat")
    state = _state(homeserver, alice, room_id)
    create = state[("m.room.create", "")]
    assert create["content"]["room_version"] == version
    assert create["room_id"] == room_id
    if version == "12":
        assert room_id == "!" + create["event_id"][1:]
        assert "@alice:test.local" not in state[("m.room.power_levels", "")]["content"]["users"]
    else:
        assert room_id.endswith(":test.local")
        assert state[("m.room.power_levels", "")]["content"]["users"] == {"@alice:test.local": 100}
    assert state[("m.room.member", "@alice:test.local")]["content"]["membership"] == "join"
    assert state[("m.room.join_rules", "")]["content"] == {"join_rule": "public"}
    assert state[("m.room.history_visibility", "")]["content"] == {"history_visibility": "shared"}
    assert state[("m.room.name", "")]["content"] == {"name": "Lobby"}
    assert state[("m.room.topic", "")]["content"] == {"topic": "Hello"}
    assert homeserver.get("/_matrix/client/v3/joined_rooms", token=alice).json == {"joined_rooms": [room_id]}


def test_send_is_idempotent_per_transaction_id(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    path = f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/txn1"
    first = homeserver.put(path, token=alice, json={"msgtype": "m.text", "body": "hi"})
    again = homeserver.put(path, token=alice, json={"msgtype": "m.text", "body": "hi"})
    assert first.status_code == 200 and first.json == again.json
    event = homeserver.get(f"/_matrix/client/v3/rooms/{room_id}/event/{first.json['event_id']}", token=alice).json
    assert event["content"] == {"msgtype": "m.text", "body": "hi"}
    assert event["sender"] == "@alice:test.local"
    other = homeserver.put(f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/txn2", token=alice,
                           json={"msgtype": "m.text", "body": "hi"})
    assert other.json["event_id"] != first.json["event_id"]


def test_outsiders_cannot_send_or_read(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    eve = homeserver.register("eve")["access_token"]
    room_id = _room(homeserver, alice, preset="private_chat")
    sent = homeserver.put(f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t", token=eve,
                          json={"body": "x"})
    assert (sent.status_code, sent.json["errcode"]) == (403, "M_FORBIDDEN")
    assert homeserver.get(f"/_matrix/client/v3/rooms/{room_id}/state", token=eve).status_code == 403
    joined = homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=eve, json={})
    assert joined.status_code == 403, "an invite-only room needs an invite"


def test_invite_join_leave_kick_ban(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="private_chat", invite=["@bob:test.local"], is_direct=True)
    assert homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={}).json == {
        "room_id": room_id}
    joined = homeserver.get(f"/_matrix/client/v3/rooms/{room_id}/joined_members", token=alice).json["joined"]
    assert set(joined) == {"@alice:test.local", "@bob:test.local"}
    assert joined["@bob:test.local"]["display_name"] == "bob"
    kicked = homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/kick", token=alice,
                             json={"user_id": "@bob:test.local", "reason": "bye"})
    assert kicked.status_code == 200
    assert homeserver.get("/_matrix/client/v3/joined_rooms", token=bob).json == {"joined_rooms": []}
    banned = homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/ban", token=alice,
                             json={"user_id": "@bob:test.local"})
    assert banned.status_code == 200
    members = homeserver.get(f"/_matrix/client/v3/rooms/{room_id}/members?membership=ban", token=alice).json
    assert [event["state_key"] for event in members["chunk"]] == ["@bob:test.local"]
    assert homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={}).status_code == 403
    assert homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/leave", token=alice, json={}).status_code == 200
    assert homeserver.get("/_matrix/client/v3/joined_rooms", token=alice).json == {"joined_rooms": []}


def test_state_put_and_get_with_and_without_state_key(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    base = f"/_matrix/client/v3/rooms/{room_id}/state"
    assert homeserver.put(f"{base}/m.room.topic", token=alice, json={"topic": "one"}).status_code == 200
    assert homeserver.get(f"{base}/m.room.topic/", token=alice).json == {"topic": "one"}
    assert homeserver.put(f"{base}/org.example.thing/a/b", token=alice, json={"v": 1}).status_code == 200
    assert homeserver.get(f"{base}/org.example.thing/a/b", token=alice).json == {"v": 1}
    missing = homeserver.get(f"{base}/m.room.avatar", token=alice)
    assert (missing.status_code, missing.json["errcode"]) == (404, "M_NOT_FOUND")


def test_power_levels_guard_state(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={})
    denied = homeserver.put(f"/_matrix/client/v3/rooms/{room_id}/state/m.room.name", token=bob,
                            json={"name": "mine"})
    assert (denied.status_code, denied.json["errcode"]) == (403, "M_FORBIDDEN")
    assert homeserver.get(f"/_matrix/client/v3/rooms/{room_id}/state/m.room.name", token=bob).status_code == 404


def test_unknown_room_version_and_room(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bad = homeserver.post(CREATE, token=alice, json={"room_version": "99"})
    assert (bad.status_code, bad.json["errcode"]) == (400, "M_UNSUPPORTED_ROOM_VERSION")
    missing = homeserver.put("/_matrix/client/v3/rooms/!nope:test.local/send/m.room.message/t", token=alice,
                             json={"body": "x"})
    assert missing.status_code == 404


def test_room_dag_stays_linear(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    for index in range(5):
        homeserver.put(f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t{index}", token=alice,
                       json={"body": str(index)})
    with homeserver.deps.database.read() as conn:
        extremities = homeserver.deps.stores.events.list_forward_extremities(conn, room_id)
        events = homeserver.deps.stores.events.list_room_events(conn, room_id, limit=100, backwards=False)
    assert len(extremities) == 1 and extremities[0] == events[-1].event_id
    for earlier, later in itertools.pairwise(events):
        assert later.event.prev_event_ids == (earlier.event_id,)
        assert later.event.depth == earlier.event.depth + 1


def test_redactions_and_relations_are_indexed_by_the_writer(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    send = f"/_matrix/client/v3/rooms/{room_id}/send"
    parent = homeserver.put(f"{send}/m.room.message/p", token=alice, json={"body": "hi"}).json["event_id"]
    reaction = homeserver.put(f"{send}/m.reaction/r", token=alice, json={
        "m.relates_to": {"rel_type": "m.annotation", "event_id": parent, "key": "👍"}}).json["event_id"]
    redaction = homeserver.put(f"{send}/m.room.redaction/x", token=alice,
                               json={"redacts": reaction}).json["event_id"]
    with homeserver.deps.database.read() as conn:
        relations = homeserver.deps.stores.relations
        assert relations.list_redactions_of(conn, [reaction]) == {reaction: [redaction]}
    with homeserver.deps.database.read() as conn:
        rows = conn.exec_driver_sql(
            "SELECT event_id, relates_to_id, relation_type, aggregation_key FROM event_relations").fetchall()
    assert [tuple(row) for row in rows] == [(reaction, parent, "m.annotation", "👍")]


def test_knock_then_invite_lets_a_knocker_in(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, room_version="10",
                    initial_state=[{"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}])
    knocked = homeserver.post(f"/_matrix/client/v3/knock/{room_id}", token=bob, json={"reason": "let me in"})
    assert knocked.json == {"room_id": room_id}
    members = homeserver.get(f"/_matrix/client/v3/rooms/{room_id}/members?membership=knock", token=alice).json
    assert [(e["state_key"], e["content"]["reason"]) for e in members["chunk"]] == [("@bob:test.local", "let me in")]
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/invite", token=alice, json={"user_id": "@bob:test.local"})
    assert homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={}).status_code == 200


def test_knocking_on_a_room_that_does_not_allow_it_is_forbidden(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    private = _room(homeserver, alice, preset="private_chat")
    refused = homeserver.post(f"/_matrix/client/v3/knock/{private}", token=bob, json={})
    assert (refused.status_code, refused.json["errcode"]) == (403, "M_FORBIDDEN")


def test_capabilities_advertise_every_room_version(homeserver: HomeserverUnderTest) -> None:
    token = homeserver.register("carol")["access_token"]
    versions = homeserver.get("/_matrix/client/v3/capabilities", token=token).json["capabilities"]["m.room_versions"]
    assert versions["default"] == "12"
    assert set(versions["available"]) == {str(number) for number in range(1, 13)}


def test_v12_rooms_created_in_the_same_millisecond_are_distinct(homeserver: HomeserverUnderTest) -> None:
    """The fake clock stands still: identical create events would hash to one room id."""
    alice = homeserver.register("alice")["access_token"]
    first = _room(homeserver, alice, name="one")
    second = _room(homeserver, alice, name="two")
    assert first != second
    base = "/_matrix/client/v3/rooms"
    assert homeserver.get(f"{base}/{first}/state/m.room.name", token=alice).json == {"name": "one"}
    assert homeserver.get(f"{base}/{second}/state/m.room.name", token=alice).json == {"name": "two"}


def test_rooms_are_created_in_the_configured_default_room_version(make_homeserver) -> None:  # type: ignore[no-untyped-def]
    server = make_homeserver(default_room_version="10")
    alice = server.register("alice")["access_token"]
    room_id = _room(server, alice)
    assert _state(server, alice, room_id)[("m.room.create", "")]["content"]["room_version"] == "10"
    capabilities = server.get("/_matrix/client/v3/capabilities", token=alice).json["capabilities"]
    assert capabilities["m.room_versions"]["default"] == "10"
    explicit = _room(server, alice, room_version="11")
    assert _state(server, alice, explicit)[("m.room.create", "")]["content"]["room_version"] == "11"


def test_a_public_chat_has_no_guest_access_event(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    state = homeserver.get(f"/_matrix/client/v3/rooms/{room_id}/state", token=alice).json
    assert "m.room.guest_access" not in [event["type"] for event in state], "no event means forbidden"
    private = _room(homeserver, alice, preset="private_chat")
    state = homeserver.get(f"/_matrix/client/v3/rooms/{private}/state", token=alice).json
    assert {"guest_access": "can_join"} in [event["content"] for event in state
                                            if event["type"] == "m.room.guest_access"]
