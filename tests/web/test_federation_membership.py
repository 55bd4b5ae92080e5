"""The resident side of membership handshakes: a remote server's user joins, leaves and knocks on our rooms
(Server-Server API, "Joining Rooms", "Leaving Rooms", "Knocking upon a room"), in both shapes."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.signing import generate_signing_key
from tests.conftest import HomeserverFactory
from tests.homeserver import SERVER_NAME, HomeserverUnderTest
from tests.web.federation_peers import FEDERATION_CONFIG, REMOTE, seed_remote_keys, signed_request
from tests.web.remote_members import event_id_of, q, sign_template

BOB = f"@bob:{REMOTE}"
ALL_VERSIONS = "&".join(f"ver={version}" for version in range(1, 13))


@pytest.fixture
def resident(make_homeserver: HomeserverFactory) -> HomeserverUnderTest:
    homeserver = make_homeserver(**FEDERATION_CONFIG)
    seed_remote_keys(homeserver)
    homeserver.register("alice")
    return homeserver


def alice_token(homeserver: HomeserverUnderTest) -> str:
    return str(homeserver.login("alice")["access_token"])


def create_room(homeserver: HomeserverUnderTest, token: str, **body: Any) -> str:
    response = homeserver.post("/_matrix/client/v3/createRoom", json=body, token=token)
    assert response.status_code == 200, response.json
    return str(response.json["room_id"])


def make(homeserver: HomeserverUnderTest, kind: str, room_id: str, user_id: str = BOB,
         query: str = ALL_VERSIONS, **kwargs: Any) -> Any:
    return signed_request(homeserver, "GET", f"/_matrix/federation/v1/make_{kind}/{q(room_id)}/{q(user_id)}"
                          + (f"?{query}" if query else ""), **kwargs)


def send(homeserver: HomeserverUnderTest, kind: str, room_id: str, pdu: dict[str, Any], room_version: str,
         api: str = "v2", query: str = "", **kwargs: Any) -> Any:
    event_id = event_id_of(pdu, room_version)
    path = f"/_matrix/federation/{api}/send_{kind}/{q(room_id)}/{q(event_id)}" + (f"?{query}" if query else "")
    return signed_request(homeserver, "PUT", path, pdu, **kwargs)


def handshake(homeserver: HomeserverUnderTest, kind: str, room_id: str, **send_kwargs: Any) -> Any:
    made = make(homeserver, kind, room_id)
    assert made.status_code == 200, made.json
    version = made.json["room_version"]
    pdu = sign_template(made.json["event"], version)
    return send(homeserver, kind, room_id, pdu, version, **send_kwargs), pdu, version


def members(homeserver: HomeserverUnderTest, room_id: str, token: str) -> dict[str, str]:
    response = homeserver.get(f"/_matrix/client/v3/rooms/{q(room_id)}/members", token=token)
    assert response.status_code == 200, response.json
    return {event["state_key"]: event["content"]["membership"] for event in response.json["chunk"]}


@pytest.mark.parametrize("room_version", ["1", "10", "12"])
def test_a_remote_user_joins_a_public_room(resident: HomeserverUnderTest, room_version: str) -> None:
    token = alice_token(resident)
    room_id = create_room(resident, token, preset="public_chat", room_version=room_version, name="Lobby")
    made = make(resident, "join", room_id)
    assert made.status_code == 200, made.json
    assert made.json["room_version"] == room_version
    template = made.json["event"]
    assert (template["type"], template["state_key"], template["sender"]) == ("m.room.member", BOB, BOB)
    assert template["content"] == {"membership": "join"}
    pdu = sign_template(template, room_version)
    response = send(resident, "join", room_id, pdu, room_version)
    assert response.status_code == 200, response.json
    answer = response.json
    state_types = {(event["type"], event.get("state_key")) for event in answer["state"]}
    assert {("m.room.create", ""), ("m.room.member", f"@alice:{SERVER_NAME}"), ("m.room.name", "")} <= state_types
    assert ("m.room.member", BOB) not in state_types  # the state before the join
    assert answer["members_omitted"] is False and answer["origin"] == SERVER_NAME
    assert answer["auth_chain"], "the state's auth events travel with it"
    assert answer["event"]["content"] == {"membership": "join"}
    assert members(resident, room_id, token)[BOB] == "join"


def test_send_join_lists_state_and_auth_chain_oldest_first(resident: HomeserverUnderTest) -> None:
    token = alice_token(resident)
    room_id = create_room(resident, token, preset="public_chat")
    levels = resident.get(f"/_matrix/client/v3/rooms/{q(room_id)}/state/m.room.power_levels/", token=token).json
    for level in (10, 20, 30):  # each new power levels event is authorised by the one before it
        levels["users_default"] = level
        changed = resident.put(f"/_matrix/client/v3/rooms/{q(room_id)}/state/m.room.power_levels/", token=token,
                               json=levels)
        assert changed.status_code == 200, changed.json
    response, _, version = handshake(resident, "join", room_id)
    assert response.status_code == 200, response.json
    for listed in (response.json["auth_chain"], response.json["state"]):
        assert [event["depth"] for event in listed] == sorted(event["depth"] for event in listed)
    # A receiver taking the chain then the state in order, each event once (at its first listing) and the last
    # of a state key winning, as SyTest's does, ends on the newest levels.
    seen: set[str] = set()
    taken: dict[tuple[str, str], dict[str, Any]] = {}
    for event in [*response.json["auth_chain"], *response.json["state"]]:
        event_id = event_id_of(event, version)
        if event_id not in seen and "state_key" in event:
            taken[(event["type"], event["state_key"])] = event
        seen.add(event_id)
    assert taken[("m.room.power_levels", "")]["content"]["users_default"] == 30


def test_send_join_v1_answers_a_status_pair(resident: HomeserverUnderTest) -> None:
    room_id = create_room(resident, alice_token(resident), preset="public_chat")
    response, _, _ = handshake(resident, "join", room_id, api="v1")
    assert response.status_code == 200, response.json
    status, body = response.json
    assert status == 200 and {"state", "auth_chain"} <= body.keys()


def test_omit_members_leaves_out_other_members_but_names_the_servers(resident: HomeserverUnderTest) -> None:
    token = alice_token(resident)
    room_id = create_room(resident, token, preset="public_chat", name="Named")
    response, _, _ = handshake(resident, "join", room_id, query="omit_members=true")
    assert response.status_code == 200, response.json
    assert response.json["members_omitted"] is True
    assert response.json["servers_in_room"] == [SERVER_NAME]
    assert not [event for event in response.json["state"] if event["type"] == "m.room.member"]


def test_a_remote_user_leaves_again(resident: HomeserverUnderTest) -> None:
    token = alice_token(resident)
    room_id = create_room(resident, token, preset="public_chat")
    assert handshake(resident, "join", room_id)[0].status_code == 200
    left, _, _ = handshake(resident, "leave", room_id)
    assert (left.status_code, left.json) == (200, {})
    assert members(resident, room_id, token)[BOB] == "leave"


def test_a_remote_user_knocks(resident: HomeserverUnderTest) -> None:
    token = alice_token(resident)
    room_id = create_room(resident, token, room_version="10", name="Knock here",
                          initial_state=[{"type": "m.room.join_rules", "state_key": "",
                                          "content": {"join_rule": "knock"}}])
    refused = make(resident, "join", room_id)
    assert (refused.status_code, refused.json["errcode"]) == (403, "M_FORBIDDEN")
    response, _, _ = handshake(resident, "knock", room_id, api="v1")
    assert response.status_code == 200, response.json
    stripped = {event["type"] for event in response.json["knock_room_state"]}
    assert {"m.room.create", "m.room.join_rules", "m.room.name"} <= stripped
    assert members(resident, room_id, token)[BOB] == "knock"


def test_make_join_refuses_a_server_without_the_room_version(resident: HomeserverUnderTest) -> None:
    room_id = create_room(resident, alice_token(resident), preset="public_chat", room_version="10")
    response = make(resident, "join", room_id, query="ver=1&ver=2")
    assert (response.status_code, response.json["errcode"]) == (400, "M_INCOMPATIBLE_ROOM_VERSION")
    assert response.json["room_version"] == "10"
    no_ver = make(resident, "join", room_id, query="")
    assert no_ver.json["errcode"] == "M_INCOMPATIBLE_ROOM_VERSION"


def test_a_server_cannot_join_another_servers_user(resident: HomeserverUnderTest) -> None:
    room_id = create_room(resident, alice_token(resident), preset="public_chat")
    response = make(resident, "join", room_id, user_id="@mallory:elsewhere.test")
    assert (response.status_code, response.json["errcode"]) == (403, "M_FORBIDDEN")


def test_an_invite_only_room_refuses_an_uninvited_join(resident: HomeserverUnderTest) -> None:
    room_id = create_room(resident, alice_token(resident), preset="private_chat")
    response = make(resident, "join", room_id)
    assert (response.status_code, response.json["errcode"]) == (403, "M_FORBIDDEN")


def test_a_room_we_are_not_in_is_not_found(resident: HomeserverUnderTest) -> None:
    response = make(resident, "join", f"!nowhere:{SERVER_NAME}")
    assert (response.status_code, response.json["errcode"]) == (404, "M_NOT_FOUND")


def test_a_forged_join_is_refused_and_not_stored(resident: HomeserverUnderTest) -> None:
    token = alice_token(resident)
    room_id = create_room(resident, token, preset="public_chat", room_version="10")
    made = make(resident, "join", room_id)
    forged = sign_template(made.json["event"], "10", key=generate_signing_key("remote1"))
    response = send(resident, "join", room_id, forged, "10")
    assert (response.status_code, response.json["errcode"]) == (403, "M_FORBIDDEN")
    assert BOB not in members(resident, room_id, token)


def test_a_tampered_join_is_refused(resident: HomeserverUnderTest) -> None:
    room_id = create_room(resident, alice_token(resident), preset="public_chat", room_version="10")
    made = make(resident, "join", room_id)
    pdu = sign_template(made.json["event"], "10")
    pdu["content"] = {"membership": "join", "displayname": "changed after signing"}
    response = send(resident, "join", room_id, pdu, "10")
    assert (response.status_code, response.json["errcode"]) == (400, "M_BAD_JSON")


def test_a_join_for_a_user_of_another_server_is_refused(resident: HomeserverUnderTest) -> None:
    room_id = create_room(resident, alice_token(resident), preset="public_chat", room_version="10")
    made = make(resident, "join", room_id)
    other = "@mallory:elsewhere.test"
    pdu = sign_template(made.json["event"], "10", sender=other, state_key=other)
    response = send(resident, "join", room_id, pdu, "10")
    assert (response.status_code, response.json["errcode"]) == (403, "M_FORBIDDEN")


def test_a_restricted_join_is_authorised_and_countersigned_by_us(resident: HomeserverUnderTest) -> None:
    token = alice_token(resident)
    space = create_room(resident, token, preset="public_chat", room_version="10")
    assert handshake(resident, "join", space)[0].status_code == 200
    room_id = create_room(resident, token, room_version="10", initial_state=[{
        "type": "m.room.join_rules", "state_key": "",
        "content": {"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": space}]}}])
    made = make(resident, "join", room_id)
    assert made.status_code == 200, made.json
    assert made.json["event"]["content"]["join_authorised_via_users_server"] == f"@alice:{SERVER_NAME}"
    response = send(resident, "join", room_id, sign_template(made.json["event"], "10"), "10")
    assert response.status_code == 200, response.json
    assert SERVER_NAME in response.json["event"]["signatures"]
    assert members(resident, room_id, token)[BOB] == "join"


def test_a_restricted_room_refuses_a_user_outside_the_allowed_rooms(resident: HomeserverUnderTest) -> None:
    token = alice_token(resident)
    space = create_room(resident, token, preset="public_chat", room_version="10")
    room_id = create_room(resident, token, room_version="10", initial_state=[{
        "type": "m.room.join_rules", "state_key": "",
        "content": {"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": space}]}}])
    response = make(resident, "join", room_id)
    assert (response.status_code, response.json["errcode"]) == (403, "M_FORBIDDEN")
    unknown = create_room(resident, token, room_version="10", initial_state=[{
        "type": "m.room.join_rules", "state_key": "",
        "content": {"join_rule": "restricted", "allow": [{"type": "m.room_membership",
                                                          "room_id": "!elsewhere:remote.test"}]}}])
    response = make(resident, "join", unknown)
    assert (response.status_code, response.json["errcode"]) == (400, "M_UNABLE_TO_AUTHORISE_JOIN")


def test_an_unsigned_join_is_forbidden_before_its_form_is_judged(resident: HomeserverUnderTest) -> None:
    token = alice_token(resident)
    room_id = create_room(resident, token, preset="public_chat", room_version="10")
    made = make(resident, "join", room_id)
    template = {**made.json["event"], "origin_server_ts": 1}  # neither hashed nor signed, as SyTest sends it
    response = send(resident, "join", room_id, template, "10")
    assert (response.status_code, response.json["errcode"]) == (403, "M_FORBIDDEN")
    assert BOB not in members(resident, room_id, token)


def test_a_server_the_rooms_acl_denies_cannot_join(resident: HomeserverUnderTest) -> None:
    token = alice_token(resident)
    room_id = create_room(resident, token, preset="public_chat", room_version="10")
    made = make(resident, "join", room_id)
    acl = resident.put(f"/_matrix/client/v3/rooms/{q(room_id)}/state/m.room.server_acl",
                       json={"allow": ["*"], "deny": [REMOTE]}, token=token)
    assert acl.status_code == 200, acl.json
    denied = make(resident, "join", room_id)
    assert (denied.status_code, denied.json["errcode"]) == (403, "M_FORBIDDEN")
    sent = send(resident, "join", room_id, sign_template(made.json["event"], "10"), "10")
    assert (sent.status_code, sent.json["errcode"]) == (403, "M_FORBIDDEN")
    assert BOB not in members(resident, room_id, token)


def remote_invite(resident: HomeserverUnderTest, token: str, room_id: str, target: str) -> Any:
    """Bob (joined) invites ``target`` in our room, built as his server would: on our latest event, citing the
    create event, the power levels, the join rules and his own membership."""
    state = {(event["type"], event["state_key"]): event["event_id"] for event in
             resident.get(f"/_matrix/client/v3/rooms/{q(room_id)}/state", token=token).json}
    latest = resident.get(f"/_matrix/client/v3/rooms/{q(room_id)}/messages?dir=b&limit=1", token=token).json
    auth = [state[key] for key in (("m.room.create", ""), ("m.room.power_levels", ""), ("m.room.join_rules", ""),
                                   ("m.room.member", BOB))]
    pdu = sign_template({"type": "m.room.member", "room_id": room_id, "sender": BOB, "state_key": target,
                         "content": {"membership": "invite"}, "depth": 100, "origin": REMOTE,
                         "prev_events": [latest["chunk"][0]["event_id"]], "auth_events": sorted(auth)}, "10")
    path = f"/_matrix/federation/v2/invite/{q(room_id)}/{q(event_id_of(pdu, '10'))}"
    return signed_request(resident, "PUT", path, {"room_version": "10", "event": pdu, "invite_room_state": []})


@pytest.mark.parametrize(("invite_level", "stored"), [(0, True), (50, False)])
def test_a_remote_member_invites_one_of_our_users(resident: HomeserverUnderTest, invite_level: int,
                                                   stored: bool) -> None:
    token = alice_token(resident)
    resident.register("carol")
    carol = f"@carol:{SERVER_NAME}"
    room_id = create_room(resident, token, preset="public_chat", room_version="10",
                          power_level_content_override={"invite": invite_level})
    assert handshake(resident, "join", room_id)[0].status_code == 200
    response = remote_invite(resident, token, room_id, carol)
    # Countersigned either way (the room judges the invite as a PDU); stored only when the room allows it now.
    assert response.status_code == 200, response.json
    assert SERVER_NAME in response.json["event"]["signatures"]
    assert (members(resident, room_id, token).get(carol) == "invite") is stored
