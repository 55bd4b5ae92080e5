"""Our guests and rooms of another server (Client-Server API, "Guest access", applied as Synapse applies it across
servers): guests are a local concept, so this server judges a guest's join by its own view of the room and
refuses one into a room it is not in, lets one join beside a local member when the room's ``m.room.guest_access``
is ``can_join``, and has its guests leave when the resident server revokes guest access over federation."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from protocol.signing import verify_key_of
from tests.conftest import HomeserverFactory
from tests.homeserver import SERVER_NAME, HomeserverUnderTest
from tests.web.federation_peers import REMOTE, seed_remote_keys, signed_request
from tests.web.remote_members import RemoteRoom, q
from tests.web.remote_resident import RemoteResident, remote_resident

CLIENT = "/_matrix/client/v3"
CHARLIE = f"@charlie:{REMOTE}"


@pytest.fixture
def remote() -> Iterator[RemoteResident]:
    with remote_resident(SERVER_NAME) as resident:
        yield resident


@pytest.fixture
def homeserver(make_homeserver: HomeserverFactory, remote: RemoteResident) -> HomeserverUnderTest:
    homeserver = make_homeserver(allow_guest_access=True, ip_range_whitelist=["127.0.0.0/8"],
                                 federation_test_hosts={REMOTE: f"http://127.0.0.1:{remote.port}"})
    remote.our_key = verify_key_of(homeserver.deps.signing_key)
    seed_remote_keys(homeserver)
    return homeserver


def guest_room(remote: RemoteResident) -> RemoteRoom:
    room = RemoteRoom.create(CHARLIE, "10")
    room.send("m.room.guest_access", {"guest_access": "can_join"}, CHARLIE, state_key="")
    remote.rooms[room.room_id] = room
    return room


def join(homeserver: HomeserverUnderTest, token: str, room: RemoteRoom) -> Any:
    return homeserver.post(f"{CLIENT}/join/{q(room.room_id)}?server_name={REMOTE}", json={}, token=token)


def send(homeserver: HomeserverUnderTest, txn_id: str, pdu: Mapping[str, Any]) -> Any:
    """The remote's ``/send`` of one PDU; answers the per-PDU results."""
    sent = signed_request(homeserver, "PUT", f"/_matrix/federation/v1/send/{txn_id}", {
        "origin": REMOTE, "origin_server_ts": int(time.time() * 1000), "pdus": [dict(pdu)]})
    assert sent.status_code == 200, sent.json
    return sent.json["pdus"]


def test_a_guest_cannot_be_the_first_of_its_server_in_a_remote_room(homeserver: HomeserverUnderTest,
                                                                     remote: RemoteResident) -> None:
    room = guest_room(remote)
    guest = homeserver.post(f"{CLIENT}/register?kind=guest", json={}).json["access_token"]
    refused = join(homeserver, guest, room)
    assert (refused.status_code, refused.json["errcode"]) == (403, "M_GUEST_ACCESS_FORBIDDEN")
    assert not [path for _, path, _ in remote.requests if "/make_join/" in path], "the resident is never asked"


def test_a_guest_joins_beside_a_local_member_and_leaves_when_the_resident_revokes_guest_access(
        homeserver: HomeserverUnderTest, remote: RemoteResident) -> None:
    room = guest_room(remote)
    alice = homeserver.register("alice")["access_token"]
    guest = homeserver.post(f"{CLIENT}/register?kind=guest", json={}).json
    assert join(homeserver, alice, room).status_code == 200
    assert join(homeserver, guest["access_token"], room).status_code == 200
    member_path = f"{CLIENT}/rooms/{q(room.room_id)}/state/m.room.member/{q(guest['user_id'])}"
    member = homeserver.get(member_path, token=alice).json
    assert (member["membership"], member["kind"]) == ("join", "guest"), "marked as Synapse marks guests"
    renamed = room.send("m.room.name", {"name": "Still open to guests"}, CHARLIE, state_key="")
    assert send(homeserver, "rename-1", renamed.pdu) == {renamed.event_id: {}}
    assert homeserver.get(member_path, token=alice).json["membership"] == "join", "other state keeps guests in"

    revocation = room.send("m.room.guest_access", {"guest_access": "forbidden"}, CHARLIE, state_key="")
    assert send(homeserver, "revoke-1", revocation.pdu) == {revocation.event_id: {}}
    assert homeserver.get(member_path, token=alice).json["membership"] == "leave"
    joined = homeserver.get(f"{CLIENT}/rooms/{q(room.room_id)}/joined_members", token=alice).json["joined"]
    assert set(joined) == {CHARLIE, f"@alice:{SERVER_NAME}"}, "full members stay"

