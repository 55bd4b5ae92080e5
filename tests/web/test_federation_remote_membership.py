"""Our users in rooms of another server (Server-Server API, "Joining Rooms", "Knocking upon a room", "Leaving
Rooms", "Inviting to a room", from the side of the user's server): the client's ``/join``, ``/knock``,
``/leave`` and ``/invite`` go through a remote resident on loopback, and the room shows up in ``/sync``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from unpaddedbase64 import encode_base64

from protocol.signing import generate_signing_key, sign_json, verify_key_of
from tests.conftest import HomeserverFactory
from tests.homeserver import SERVER_NAME, HomeserverUnderTest
from tests.push_gateway import running_push_gateway
from tests.web.federation_peers import REMOTE, seed_remote_keys, signed_request
from tests.web.remote_members import RemoteRoom, event_id_of, q
from tests.web.remote_resident import VALIDITY_PATH, RemoteResident, remote_resident

CHARLIE = f"@charlie:{REMOTE}"
ALICE = f"@alice:{SERVER_NAME}"


@pytest.fixture
def remote() -> Iterator[RemoteResident]:
    with remote_resident(SERVER_NAME) as resident:
        yield resident


@pytest.fixture
def joining(make_homeserver: HomeserverFactory, remote: RemoteResident) -> HomeserverUnderTest:
    homeserver = make_homeserver(federation_test_hosts={REMOTE: f"http://127.0.0.1:{remote.port}",
                                                        "gone.test": "http://127.0.0.1:9"},
                                 ip_range_whitelist=["127.0.0.0/8"])
    remote.our_key = verify_key_of(homeserver.deps.signing_key)
    seed_remote_keys(homeserver)
    homeserver.register("alice")
    return homeserver


def token_of(homeserver: HomeserverUnderTest) -> str:
    return str(homeserver.login("alice")["access_token"])


def sync_rooms(homeserver: HomeserverUnderTest, token: str) -> dict[str, Any]:
    response = homeserver.get("/_matrix/client/v3/sync", token=token)
    assert response.status_code == 200, response.json
    return dict(response.json["rooms"])


def host(remote: RemoteResident, room: RemoteRoom) -> RemoteRoom:
    remote.rooms[room.room_id] = room
    return room


@pytest.mark.parametrize("room_version", ["1", "10", "12"])
def test_joining_a_remote_room_brings_its_state_and_lets_us_talk(joining: HomeserverUnderTest,
                                                                  remote: RemoteResident, room_version: str) -> None:
    room = host(remote, RemoteRoom.create(CHARLIE, room_version))
    room.send("m.room.name", {"name": "Over there"}, CHARLIE, state_key="")
    token = token_of(joining)
    response = joining.post(f"/_matrix/client/v3/join/{q(room.room_id)}?server_name={REMOTE}", json={},
                            token=token)
    assert response.status_code == 200, response.json
    assert response.json == {"room_id": room.room_id}
    [join] = [event for event in room.events if event.sender == ALICE]
    assert join.membership == "join" and join.content.get("membership") == "join"
    joined = sync_rooms(joining, token)["join"][room.room_id]
    state = {(event["type"], event["state_key"]): event for event in joined["state"]["events"]}
    assert state[("m.room.name", "")]["content"] == {"name": "Over there"}
    assert ("m.room.member", CHARLIE) in state
    assert [event["event_id"] for event in joined["timeline"]["events"]] == [join.event_id]
    sent = joining.put(f"/_matrix/client/v3/rooms/{q(room.room_id)}/send/m.room.message/t1",
                       json={"msgtype": "m.text", "body": "hello over there"}, token=token)
    assert sent.status_code == 200, sent.json
    members = joining.get(f"/_matrix/client/v3/rooms/{q(room.room_id)}/joined_members", token=token)
    assert set(members.json["joined"]) == {CHARLIE, ALICE}


def test_a_refused_remote_join_passes_the_residents_error_on(joining: HomeserverUnderTest,
                                                             remote: RemoteResident) -> None:
    room = host(remote, RemoteRoom.create(CHARLIE, "10", join_rule="invite"))
    token = token_of(joining)
    response = joining.post(f"/_matrix/client/v3/join/{q(room.room_id)}?via={REMOTE}", json={}, token=token)
    assert (response.status_code, response.json["errcode"]) == (403, "M_FORBIDDEN")
    assert room.room_id not in sync_rooms(joining, token).get("join", {})


def test_an_unreachable_room_cannot_be_joined(joining: HomeserverUnderTest) -> None:
    token = token_of(joining)
    response = joining.post(f"/_matrix/client/v3/join/{q('!lost:gone.test')}", json={}, token=token)
    assert response.status_code == 502, response.json
    nowhere = joining.post(f"/_matrix/client/v3/join/{q('!lost:' + SERVER_NAME)}", json={}, token=token)
    assert (nowhere.status_code, nowhere.json["errcode"]) == (404, "M_NOT_FOUND")


def invite_alice(joining: HomeserverUnderTest, room: RemoteRoom, api: str = "v2",
                 more_state: tuple[dict[str, Any], ...] = ()) -> Any:
    invite = room.send("m.room.member", {"membership": "invite"}, CHARLIE, state_key=ALICE)
    stripped = [{"type": "m.room.join_rules", "state_key": "", "sender": CHARLIE,
                 "content": {"join_rule": "invite"}}, *more_state]
    path = f"/_matrix/federation/{api}/invite/{q(room.room_id)}/{q(invite.event_id)}"
    if api == "v1":
        body: Any = {**invite.pdu, "unsigned": {"invite_room_state": stripped}}
    else:
        body = {"room_version": room.version.identifier, "event": dict(invite.pdu), "invite_room_state": stripped}
    return signed_request(joining, "PUT", path, body)


def test_a_remote_invite_is_countersigned_shown_in_sync_and_accepted(joining: HomeserverUnderTest,
                                                                     remote: RemoteResident) -> None:
    room = host(remote, RemoteRoom.create(CHARLIE, "10", join_rule="invite"))
    response = invite_alice(joining, room)
    assert response.status_code == 200, response.json
    assert SERVER_NAME in response.json["event"]["signatures"]
    token = token_of(joining)
    invited = sync_rooms(joining, token)["invite"][room.room_id]["invite_state"]["events"]
    assert invited[0]["content"] == {"join_rule": "invite"}
    assert invited[-1]["state_key"] == ALICE and invited[-1]["content"]["membership"] == "invite"
    # The room is joined through the inviting server, with no hint from the client.
    joined = joining.post(f"/_matrix/client/v3/rooms/{q(room.room_id)}/join", json={}, token=token)
    assert joined.status_code == 200, joined.json
    assert room.room_id in sync_rooms(joining, token)["join"]


def test_a_v1_invite_answers_a_status_pair(joining: HomeserverUnderTest, remote: RemoteResident) -> None:
    room = host(remote, RemoteRoom.create(CHARLIE, "1", join_rule="invite"))
    response = invite_alice(joining, room, api="v1")
    assert response.status_code == 200, response.json
    assert response.json[0] == 200 and SERVER_NAME in response.json[1]["event"]["signatures"]


def test_an_invite_for_another_servers_user_or_a_bad_version_is_refused(joining: HomeserverUnderTest,
                                                                        remote: RemoteResident) -> None:
    room = RemoteRoom.create(CHARLIE, "10", join_rule="invite")
    stranger = room.send("m.room.member", {"membership": "invite"}, CHARLIE, state_key="@dan:elsewhere.test")
    path = f"/_matrix/federation/v2/invite/{q(room.room_id)}/{q(stranger.event_id)}"
    refused = signed_request(joining, "PUT", path, {"room_version": "10", "event": dict(stranger.pdu)})
    assert (refused.status_code, refused.json["errcode"]) == (403, "M_FORBIDDEN")
    invite = room.send("m.room.member", {"membership": "invite"}, CHARLIE, state_key=ALICE)
    path = f"/_matrix/federation/v2/invite/{q(room.room_id)}/{q(invite.event_id)}"
    unknown = signed_request(joining, "PUT", path, {"room_version": "99", "event": dict(invite.pdu)})
    assert (unknown.status_code, unknown.json["errcode"]) == (400, "M_INCOMPATIBLE_ROOM_VERSION")


def test_rejecting_a_remote_invite_goes_through_the_inviting_server(joining: HomeserverUnderTest,
                                                                    remote: RemoteResident) -> None:
    room = host(remote, RemoteRoom.create(CHARLIE, "10", join_rule="invite"))
    assert invite_alice(joining, room).status_code == 200
    token = token_of(joining)
    since = joining.get("/_matrix/client/v3/sync", token=token).json["next_batch"]
    left = joining.post(f"/_matrix/client/v3/rooms/{q(room.room_id)}/leave", json={}, token=token)
    assert left.status_code == 200, left.json
    assert room.state[("m.room.member", ALICE)].membership == "leave"
    rooms = joining.get(f"/_matrix/client/v3/sync?since={since}", token=token).json["rooms"]
    assert room.room_id not in rooms["invite"]
    # The room shows the rejection alone: the invite was out of band, never part of a timeline we hold.
    [leave] = rooms["leave"][room.room_id]["timeline"]["events"]
    assert (leave["sender"], leave["content"]["membership"]) == (ALICE, "leave")


def test_an_invite_from_a_vanished_server_is_rejected_here(joining: HomeserverUnderTest,
                                                           remote: RemoteResident) -> None:
    room = RemoteRoom.create(CHARLIE, "10", join_rule="invite")  # not hosted: make_leave finds no such room
    assert invite_alice(joining, room).status_code == 200
    token = token_of(joining)
    left = joining.post(f"/_matrix/client/v3/rooms/{q(room.room_id)}/leave", json={}, token=token)
    assert left.status_code == 200, left.json
    assert room.room_id not in sync_rooms(joining, token)["invite"]


def test_knocking_on_a_remote_room(joining: HomeserverUnderTest, remote: RemoteResident) -> None:
    room = host(remote, RemoteRoom.create(CHARLIE, "10", join_rule="knock"))
    token = token_of(joining)
    knocked = joining.post(f"/_matrix/client/v3/knock/{q(room.room_id)}?via={REMOTE}", json={}, token=token)
    assert knocked.status_code == 200, knocked.json
    assert room.state[("m.room.member", ALICE)].membership == "knock"
    knock_state = sync_rooms(joining, token)["knock"][room.room_id]["knock_state"]["events"]
    assert knock_state[0]["content"] == {"join_rule": "knock"}


def test_inviting_a_remote_user_has_their_server_countersign(joining: HomeserverUnderTest,
                                                             remote: RemoteResident) -> None:
    token = token_of(joining)
    created = joining.post("/_matrix/client/v3/createRoom", json={"preset": "private_chat"}, token=token)
    room_id = created.json["room_id"]
    response = joining.post(f"/_matrix/client/v3/rooms/{q(room_id)}/invite", json={"user_id": CHARLIE},
                            token=token)
    assert response.status_code == 200, response.json
    [invite] = remote.invites
    assert (invite.state_key, invite.sender) == (CHARLIE, ALICE)
    members = joining.get(f"/_matrix/client/v3/rooms/{q(room_id)}/members", token=token).json["chunk"]
    stored = {event["state_key"]: event for event in members}
    assert stored[CHARLIE]["content"]["membership"] == "invite"
    assert stored[CHARLIE]["event_id"] == event_id_of(dict(invite.pdu), "12") == invite.event_id


def test_create_room_invites_a_remote_user_through_their_server(joining: HomeserverUnderTest,
                                                                remote: RemoteResident) -> None:
    token = token_of(joining)
    created = joining.post("/_matrix/client/v3/createRoom", json={
        "preset": "private_chat", "invite": [CHARLIE], "is_direct": True}, token=token)
    assert created.status_code == 200, created.json
    [invite] = remote.invites
    assert (invite.state_key, invite.sender, invite.content.get("is_direct")) == (CHARLIE, ALICE, True)
    [sent] = [body for method, path, body in remote.requests if "/invite/" in path]
    assert [(event["state_key"], event["content"]["membership"]) for event in sent["invite_room_state"]
            if event["type"] == "m.room.member"] == [(ALICE, "join")], "the inviter's membership goes with it"
    members = joining.get(f"/_matrix/client/v3/rooms/{q(created.json['room_id'])}/members", token=token).json
    stored = {event["state_key"]: event for event in members["chunk"]}
    assert stored[CHARLIE]["event_id"] == invite.event_id, "the countersigned invite, not one made alone"


def test_a_third_party_invite_is_exchanged_for_a_real_one(joining: HomeserverUnderTest,
                                                          remote: RemoteResident) -> None:
    token = token_of(joining)
    room_id = joining.post("/_matrix/client/v3/createRoom", json={"preset": "private_chat"},
                           token=token).json["room_id"]
    identity_key = generate_signing_key("0")
    public_key = encode_base64(verify_key_of(identity_key).encode())
    state = joining.put(f"/_matrix/client/v3/rooms/{q(room_id)}/state/m.room.third_party_invite/tok3pid",
                        json={"display_name": "c...@example.org", "public_key": public_key,
                              "key_validity_url": f"http://127.0.0.1:{remote.port}{VALIDITY_PATH}"},
                        token=token)
    assert state.status_code == 200, state.json

    def exchange(signing_key: Any) -> Any:
        signed = sign_json({"mxid": CHARLIE, "token": "tok3pid"}, "id.test", signing_key)
        return signed_request(joining, "PUT", f"/_matrix/federation/v1/exchange_third_party_invite/{q(room_id)}", {
            "type": "m.room.member", "room_id": room_id, "sender": ALICE, "state_key": CHARLIE,
            "content": {"membership": "invite",
                        "third_party_invite": {"display_name": "c...@example.org", "signed": signed}}})

    forged = exchange(generate_signing_key("0"))
    assert (forged.status_code, forged.json["errcode"]) == (403, "M_FORBIDDEN")
    assert not remote.invites
    response = exchange(identity_key)
    assert (response.status_code, response.json) == (200, {})
    [invite] = remote.invites
    assert invite.content["third_party_invite"]["signed"]["token"] == "tok3pid"
    members = joining.get(f"/_matrix/client/v3/rooms/{q(room_id)}/members", token=token).json["chunk"]
    assert {event["state_key"]: event["content"]["membership"] for event in members}[CHARLIE] == "invite"


def test_a_remote_invite_is_pushed_to_the_invitee(joining: HomeserverUnderTest, remote: RemoteResident) -> None:
    """An invite another server sends for a room we hold nothing of notifies the invitee (``.m.rule.invite_for_me``)
    as a local invite does: it is recorded as a push action in the transaction that stores it, and the
    notification names the room and the inviter from the invite's stripped state."""
    token = token_of(joining)
    with running_push_gateway() as gateway:
        pusher = {"kind": "http", "app_id": "org.example.app", "pushkey": "alice-phone", "app_display_name": "App",
                  "device_display_name": "Phone", "lang": "en", "data": {"url": gateway.url}}
        assert joining.post("/_matrix/client/v3/pushers/set", token=token, json=pusher).status_code == 200
        room = host(remote, RemoteRoom.create(CHARLIE, "10", join_rule="invite"))
        named = ({"type": "m.room.name", "state_key": "", "sender": CHARLIE, "content": {"name": "Over there"}},
                 {"type": "m.room.member", "state_key": CHARLIE, "sender": CHARLIE,
                  "content": {"membership": "join", "displayname": "Charlie"}})
        assert invite_alice(joining, room, more_state=named).status_code == 200
        [notification] = gateway.wait_for_events(1)
    assert notification["room_id"] == room.room_id and notification["type"] == "m.room.member"
    # Named from the invite's stripped state: this server holds none of the room's.
    assert notification["room_name"] == "Over there" and notification["sender_display_name"] == "Charlie"
    assert notification["sender"] == CHARLIE and notification["content"]["membership"] == "invite"
    notified = joining.get("/_matrix/client/v3/notifications", token=token).json["notifications"]
    assert [entry["event"]["state_key"] for entry in notified] == [ALICE]
