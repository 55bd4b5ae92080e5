"""Inviting by e-mail address (Client-Server API, "Invite by third-party ID"), against a real HTTPS identity
server on loopback: a bound address invites its user, an unbound one leaves an ``m.room.third_party_invite``
keyed by the identity server's token, and the identity server is asked with the client's token and a hashed
address only."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from protocol.signing import encode_verify_key, generate_signing_key, sign_json, verify_key_of
from tests.conftest import HomeserverFactory
from tests.federation_client.tls_servers import LocalCa, RecordingServer, https_server, json_route, make_ca
from tests.homeserver import SERVER_NAME, HomeserverUnderTest

V3 = "/_matrix/client/v3"
PEPPER = "matrixrocks"
BOUND = "bob@example.org"
UNBOUND = "carol@example.org"
ID_KEY = generate_signing_key("0")
ID_PUBLIC_KEY = encode_verify_key(verify_key_of(ID_KEY))
VALIDITY_PATH = "/_matrix/identity/v2/pubkey/isvalid"


def _store_answer(server: RecordingServer) -> dict[str, Any]:
    url = f"https://127.0.0.1:{server.port}{VALIDITY_PATH}"
    return {"token": "invite-token-1", "display_name": "c...@e...",
            "public_keys": [{"public_key": ID_PUBLIC_KEY, "key_validity_url": url},
                            {"public_key": "ephemeralkey", "key_validity_url": url}]}


def _hashed(address: str) -> str:
    digest = hashlib.sha256(f"{address} email {PEPPER}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@pytest.fixture
def ca(tmp_path: Path) -> LocalCa:
    return make_ca(tmp_path)


@pytest.fixture
def identity_server(ca: LocalCa) -> Iterator[RecordingServer]:
    routes = {
        "/_matrix/identity/v2/hash_details": json_route({"lookup_pepper": PEPPER, "algorithms": ["none", "sha256"]}),
        "/_matrix/identity/v2/lookup": json_route({"mappings": {_hashed(BOUND): f"@bob:{SERVER_NAME}"}}),
    }
    with https_server(ca, ["127.0.0.1"], routes) as server:
        routes["/_matrix/identity/v2/store-invite"] = json_route(_store_answer(server))
        routes[f"{VALIDITY_PATH}?public_key={quote(ID_PUBLIC_KEY, safe='')}"] = json_route({"valid": True})
        yield server


@pytest.fixture
def homeserver(make_homeserver: HomeserverFactory, ca: LocalCa) -> HomeserverUnderTest:
    return make_homeserver(ip_range_whitelist=["127.0.0.0/8"], federation_custom_ca_list=[str(ca.ca_file)])


def _room(homeserver: HomeserverUnderTest) -> tuple[str, str]:
    homeserver.register("alice")
    homeserver.register("bob")
    token = homeserver.login("alice")["access_token"]
    created = homeserver.post(f"{V3}/createRoom", token=token, json={"preset": "private_chat"})
    assert created.status_code == 200, created.json
    return token, created.json["room_id"]


def _invite(homeserver: HomeserverUnderTest, token: str, room_id: str, server: RecordingServer,
            address: str) -> Any:
    return homeserver.post(f"{V3}/rooms/{quote(room_id)}/invite", token=token, json={
        "id_server": f"127.0.0.1:{server.port}", "id_access_token": "idtoken", "medium": "email",
        "address": address})


def _state(homeserver: HomeserverUnderTest, token: str, room_id: str, event_type: str, state_key: str) -> Any:
    return homeserver.get(f"{V3}/rooms/{quote(room_id)}/state/{event_type}/{quote(state_key)}", token=token)


def test_a_bound_address_invites_its_user(homeserver: HomeserverUnderTest, identity_server: RecordingServer) -> None:
    token, room_id = _room(homeserver)
    response = _invite(homeserver, token, room_id, identity_server, BOUND)
    assert response.status_code == 200, response.json
    assert _state(homeserver, token, room_id, "m.room.member", f"@bob:{SERVER_NAME}").json["membership"] == "invite"
    lookup = json.loads(identity_server.bodies[1][1])
    assert lookup == {"addresses": [_hashed(BOUND)], "algorithm": "sha256", "pepper": PEPPER}
    assert all(authorization == "Bearer idtoken" for authorization, _ in identity_server.bodies)
    assert "/_matrix/identity/v2/store-invite" not in [path for _, path, _ in identity_server.requests]


def test_an_unbound_address_leaves_a_third_party_invite(homeserver: HomeserverUnderTest,
                                                         identity_server: RecordingServer) -> None:
    token, room_id = _room(homeserver)
    response = _invite(homeserver, token, room_id, identity_server, UNBOUND)
    assert response.status_code == 200, response.json
    stored = json.loads(identity_server.bodies[-1][1])
    assert stored == {"medium": "email", "address": UNBOUND, "room_id": room_id, "sender": f"@alice:{SERVER_NAME}"}
    invite = _state(homeserver, token, room_id, "m.room.third_party_invite", "invite-token-1")
    assert invite.status_code == 200, invite.json
    answer = _store_answer(identity_server)
    assert invite.json == {"display_name": "c...@e...", "public_key": ID_PUBLIC_KEY,
                           "public_keys": answer["public_keys"],
                           "key_validity_url": answer["public_keys"][0]["key_validity_url"]}


@pytest.mark.parametrize("method", ["PUT", "POST"])  # the spec's PUT, and the POST identity servers send
def test_binding_the_address_turns_the_third_party_invite_into_an_invite(
        homeserver: HomeserverUnderTest, identity_server: RecordingServer, method: str) -> None:
    token, room_id = _room(homeserver)
    assert _invite(homeserver, token, room_id, identity_server, UNBOUND).status_code == 200
    bob = f"@bob:{SERVER_NAME}"
    onbind = _onbind(homeserver, method, room_id, bob)
    assert onbind.status_code == 200, onbind.json
    member = _state(homeserver, token, room_id, "m.room.member", bob)
    assert member.json["membership"] == "invite", member.json
    assert member.json["third_party_invite"]["signed"]["token"] == "invite-token-1"
    assert member.json["third_party_invite"]["display_name"] == "c...@e...", "the room's name for the invitee"


def test_create_room_invites_by_address(homeserver: HomeserverUnderTest, identity_server: RecordingServer) -> None:
    homeserver.register("alice")
    homeserver.register("bob")
    token = homeserver.login("alice")["access_token"]
    entry = {"id_server": f"127.0.0.1:{identity_server.port}", "id_access_token": "idtoken", "medium": "email"}
    created = homeserver.post(f"{V3}/createRoom", token=token, json={
        "invite_3pid": [{**entry, "address": BOUND}, {**entry, "address": UNBOUND}]})
    assert created.status_code == 200, created.json
    room_id = created.json["room_id"]
    assert _state(homeserver, token, room_id, "m.room.member", f"@bob:{SERVER_NAME}").json["membership"] == "invite"
    assert _state(homeserver, token, room_id, "m.room.third_party_invite", "invite-token-1").status_code == 200


@pytest.mark.parametrize("body", [
    {"id_server": "not a server", "id_access_token": "t", "medium": "email", "address": "a@b.c"},
    {"id_server": "127.0.0.1:1", "medium": "email", "address": "a@b.c"},
    {"id_server": "127.0.0.1:1", "id_access_token": "t", "medium": 3, "address": "a@b.c"},
])
def test_a_malformed_third_party_invite_is_a_bad_request(homeserver: HomeserverUnderTest, body: dict[str, Any]) -> None:
    token, room_id = _room(homeserver)
    response = homeserver.post(f"{V3}/rooms/{quote(room_id)}/invite", token=token, json=body)
    assert response.status_code == 400 and response.json["errcode"] in ("M_INVALID_PARAM", "M_MISSING_PARAM",
                                                                         "M_BAD_JSON"), response.json


def test_an_unreachable_identity_server_is_a_bad_gateway(homeserver: HomeserverUnderTest) -> None:
    token, room_id = _room(homeserver)
    response = homeserver.post(f"{V3}/rooms/{quote(room_id)}/invite", token=token, json={
        "id_server": "127.0.0.1:9", "id_access_token": "t", "medium": "email", "address": "a@b.c"})
    assert response.status_code == 502, response.json


def _onbind(homeserver: HomeserverUnderTest, method: str, room_id: str, mxid: str) -> Any:
    signed = sign_json({"mxid": mxid, "token": "invite-token-1"}, "id.test", ID_KEY)
    return homeserver.request(method, "/_matrix/federation/v1/3pid/onbind", json={
        "address": UNBOUND, "medium": "email", "mxid": mxid,
        "invites": [{"address": UNBOUND, "medium": "email", "mxid": mxid, "room_id": room_id,
                     "sender": f"@alice:{SERVER_NAME}", "signed": signed}]})


@pytest.mark.parametrize("validity", [json_route({"valid": False}), json_route({}, status=500), None])
def test_a_key_the_identity_server_no_longer_vouches_for_issues_no_invite(
        homeserver: HomeserverUnderTest, identity_server: RecordingServer, validity: Any) -> None:
    token, room_id = _room(homeserver)
    assert _invite(homeserver, token, room_id, identity_server, UNBOUND).status_code == 200
    key = f"{VALIDITY_PATH}?public_key={quote(ID_PUBLIC_KEY, safe='')}"
    if validity is None:
        del identity_server.routes[key]  # 404
    else:
        identity_server.routes[key] = validity
    bob = f"@bob:{SERVER_NAME}"
    onbind = _onbind(homeserver, "POST", room_id, bob)
    assert (onbind.status_code, onbind.json["errcode"]) == (403, "M_FORBIDDEN"), "the identity server is told"
    assert _state(homeserver, token, room_id, "m.room.member", bob).status_code == 404
