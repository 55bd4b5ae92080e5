"""Two real Ganglion servers on loopback take part in each other's rooms through the membership handshakes: a user
of one joins a public room of the other, is invited across and joins, knocks and is let in, joins a restricted
room through its membership of the allowed room, rejects an invite, and has a guest join beside them; each room
shows up in the joining user's ``/sync`` with its state, and the resident sees the new member. Then messages,
typing and read receipts travel both ways by the federation senders and the receiving side's ``/send``, and a
server killed while the other sends catches up once it is back: every message arrives, in order, once.

Every test runs twice: two monoliths, and two worker deployments (PostgreSQL, Redis, Celery) whose web tier has
two gunicorn processes, so inbound federation lands on either, whose sending runs on two federation sender
instances (``federation_sender_instances``, ``send_federation: false`` on main), and whose beat sweeps the
destinations that are due a retry.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.e2e.servers import HOST, RunningServer, _spawn, free_port, ganglion, start_monolith, start_workers

pytestmark = pytest.mark.e2e

A, B = "hs-a.test", "hs-b.test"
PASSWORD = "a long enough password"


# A destination that failed is tried again after a second, not Synapse's ten minutes: the catch-up test waits
# for it.
FEDERATION = {"client_timeout": "5s", "destination_min_retry_interval": "1s", "destination_max_retry_interval": "2s"}
SENDERS = ("sender1", "sender2")


@pytest.fixture(scope="module", params=["monolith", pytest.param("workers", marks=pytest.mark.workers)])
def servers(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningServer]]:
    ports = {A: free_port(), B: free_port()}
    url = {name: f"http://{HOST}:{port}" for name, port in ports.items()}
    started: dict[str, RunningServer] = {}
    try:
        for name, other in ((A, B), (B, A)):
            settings: dict[str, Any] = {"port": ports[name], "server_name": name,
                                        "federation_test_hosts": {other: url[other]},
                                        "ip_range_whitelist": ["127.0.0.0/8"], "federation": FEDERATION,
                                        "allow_guest_access": True}
            directory = tmp_path_factory.mktemp(f"{name}-{request.param}")
            if request.param == "monolith":
                started[name] = start_monolith(directory, **settings)
            else:
                started[name] = start_workers(directory, instances=("main", *SENDERS), web_workers=2,
                                              federation_sender_instances=list(SENDERS), send_federation=False,
                                              **settings)
                # Beat's destination sweep is what retries a destination once its backoff is over.
                started[name].processes.append(_spawn("beat", ganglion("beat", "--config",
                                                                       str(started[name].config_path)), directory))
        yield started
    finally:
        for server in started.values():
            server.stop()


class User:
    """A registered user of ``server``; with ``guest``, a guest account (``kind=guest``, ``name`` unused)."""

    def __init__(self, server: RunningServer, name: str, guest: bool = False) -> None:
        self.base = server.base_url
        registered = httpx.post(f"{self.base}/_matrix/client/v3/register{'?kind=guest' if guest else ''}", json={}
                                if guest else {"username": name, "password": PASSWORD,
                                               "auth": {"type": "m.login.dummy"}}, timeout=30).json()
        self.user_id = registered["user_id"]
        self.headers = {"Authorization": f"Bearer {registered['access_token']}"}

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        response = httpx.request(method, f"{self.base}/_matrix/client/v3{path}", json=body, headers=self.headers,
                                 timeout=60)
        assert response.status_code == expect, response.text
        return response.json()

    def create_room(self, **body: Any) -> str:
        return str(self.call("POST", "/createRoom", body)["room_id"])

    def sync_rooms(self) -> dict[str, Any]:
        return dict(self.call("GET", "/sync")["rooms"])

    def members(self, room_id: str) -> dict[str, str]:
        chunk = self.call("GET", f"/rooms/{quote(room_id)}/members")["chunk"]
        return {event["state_key"]: event["content"]["membership"] for event in chunk}


def eventually(probe: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.2)


def test_a_user_joins_a_public_room_of_the_other_server(servers: dict[str, RunningServer]) -> None:
    alice, bob = User(servers[A], "alice"), User(servers[B], "bob")
    room_id = alice.create_room(preset="public_chat", name="Lobby on A")
    joined = bob.call("POST", f"/join/{quote(room_id)}?server_name={A}", {})
    assert joined == {"room_id": room_id}
    room = bob.sync_rooms()["join"][room_id]
    state = {(event["type"], event["state_key"]): event for event in room["state"]["events"]}
    assert state[("m.room.name", "")]["content"]["name"] == "Lobby on A"
    assert ("m.room.member", alice.user_id) in state
    assert alice.members(room_id)[bob.user_id] == "join"
    assert bob.members(room_id) == {alice.user_id: "join", bob.user_id: "join"}


def test_an_invite_across_servers_is_shown_then_accepted(servers: dict[str, RunningServer]) -> None:
    carol, dave = User(servers[B], "carol"), User(servers[A], "dave")
    room_id = carol.create_room(preset="private_chat", name="Invite only on B")
    carol.call("POST", f"/rooms/{quote(room_id)}/invite", {"user_id": dave.user_id})
    assert carol.members(room_id)[dave.user_id] == "invite"
    invite = eventually(lambda: dave.sync_rooms()["invite"].get(room_id))
    stripped = {event["type"]: event for event in invite["invite_state"]["events"]}
    assert stripped["m.room.name"]["content"]["name"] == "Invite only on B"
    assert stripped["m.room.member"]["sender"] == carol.user_id
    dave.call("POST", f"/rooms/{quote(room_id)}/join", {})
    assert room_id in dave.sync_rooms()["join"]
    assert carol.members(room_id)[dave.user_id] == "join"


def test_an_invite_across_servers_is_rejected_through_the_inviting_server(
        servers: dict[str, RunningServer]) -> None:
    erin, frank = User(servers[A], "erin"), User(servers[B], "frank")
    room_id = erin.create_room(preset="private_chat")
    erin.call("POST", f"/rooms/{quote(room_id)}/invite", {"user_id": frank.user_id})
    eventually(lambda: frank.sync_rooms()["invite"].get(room_id))
    frank.call("POST", f"/rooms/{quote(room_id)}/leave", {})
    assert erin.members(room_id)[frank.user_id] == "leave"
    assert room_id not in frank.sync_rooms()["invite"]


def test_a_user_knocks_on_a_room_of_the_other_server(servers: dict[str, RunningServer]) -> None:
    gina, hank = User(servers[B], "gina"), User(servers[A], "hank")
    room_id = gina.create_room(room_version="10", initial_state=[
        {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}])
    refused = httpx.post(f"{hank.base}/_matrix/client/v3/join/{quote(room_id)}?via={B}", json={},
                         headers=hank.headers, timeout=60)
    assert (refused.status_code, refused.json()["errcode"]) == (403, "M_FORBIDDEN")
    hank.call("POST", f"/knock/{quote(room_id)}?via={B}", {"reason": "let me in"})
    assert gina.members(room_id)[hank.user_id] == "knock"
    knock = hank.sync_rooms()["knock"][room_id]["knock_state"]["events"]
    assert {"m.room.create", "m.room.join_rules"} <= {event["type"] for event in knock}
    # The resident answers the knock with an invite, which lets the knocker in.
    gina.call("POST", f"/rooms/{quote(room_id)}/invite", {"user_id": hank.user_id})
    eventually(lambda: room_id in hank.sync_rooms()["invite"])
    hank.call("POST", f"/rooms/{quote(room_id)}/join", {})
    assert room_id in hank.sync_rooms()["join"]
    assert gina.members(room_id)[hank.user_id] == "join"


@pytest.mark.parametrize(("room_version", "join_rule"), [("8", "restricted"), ("10", "knock_restricted")])
def test_a_restricted_room_admits_a_remote_member_of_the_allowed_room(
        servers: dict[str, RunningServer], room_version: str, join_rule: str) -> None:
    """The resident (A) checks the allowed room's membership and countersigns the join, naming its user in
    ``join_authorised_via_users_server`` (spec: "Restricted rooms"; v10's ``knock_restricted`` admits the same
    way); a user of B outside the allowed room is refused."""
    quinn, ralph = User(servers[A], f"quinn{room_version}"), User(servers[B], f"ralph{room_version}")
    space = quinn.create_room(preset="public_chat")
    room_id = quinn.create_room(room_version=room_version, initial_state=[
        {"type": "m.room.join_rules", "state_key": "",
         "content": {"join_rule": join_rule, "allow": [{"type": "m.room_membership", "room_id": space}]}}])
    refused = httpx.post(f"{ralph.base}/_matrix/client/v3/join/{quote(room_id)}?via={A}", json={},
                         headers=ralph.headers, timeout=60)
    assert (refused.status_code, refused.json()["errcode"]) == (403, "M_FORBIDDEN")
    ralph.call("POST", f"/join/{quote(space)}?via={A}", {})
    ralph.call("POST", f"/join/{quote(room_id)}?via={A}", {})
    assert room_id in ralph.sync_rooms()["join"]
    assert quinn.members(room_id)[ralph.user_id] == "join"
    path = f"/rooms/{quote(room_id)}/state/m.room.member/{quote(ralph.user_id)}"
    for user in (quinn, ralph):
        assert user.call("GET", path)["join_authorised_via_users_server"] == quinn.user_id


def test_a_guest_joins_a_remote_room_only_beside_a_local_member_and_leaves_when_guests_are_shut_out(
        servers: dict[str, RunningServer]) -> None:
    """Guests are a local concept (Synapse's reading too): B judges its guest's join by its own view of A's room,
    so the guest cannot be B's first member there; beside a joined user of B it joins a ``can_join`` room, and
    when A revokes guest access, B has its guest leave."""
    sara, tom, guest = User(servers[A], "sara"), User(servers[B], "tom"), User(servers[B], "", guest=True)
    room_id = sara.create_room(preset="public_chat", initial_state=[
        {"type": "m.room.guest_access", "state_key": "", "content": {"guest_access": "can_join"}}])
    refused = httpx.post(f"{guest.base}/_matrix/client/v3/join/{quote(room_id)}?via={A}", json={},
                         headers=guest.headers, timeout=60)
    assert (refused.status_code, refused.json()["errcode"]) == (403, "M_GUEST_ACCESS_FORBIDDEN")
    tom.call("POST", f"/join/{quote(room_id)}?via={A}", {})
    guest.call("POST", f"/join/{quote(room_id)}?via={A}", {})
    eventually(lambda: sara.members(room_id).get(guest.user_id) == "join")
    sara.call("PUT", f"/rooms/{quote(room_id)}/state/m.room.guest_access", {"guest_access": "forbidden"})
    eventually(lambda: sara.members(room_id).get(guest.user_id) == "leave")
    assert tom.members(room_id) == {sara.user_id: "join", tom.user_id: "join", guest.user_id: "leave"}


def messages(user: User, room_id: str) -> list[str]:
    chunk = user.call("GET", f"/rooms/{quote(room_id)}/messages?dir=b&limit=50")["chunk"]
    return [event["content"].get("body") for event in chunk if event["type"] == "m.room.message"]


def test_after_a_join_messages_travel_both_ways(servers: dict[str, RunningServer]) -> None:
    ivy, jack = User(servers[A], "ivy"), User(servers[B], "jack")
    room_id = ivy.create_room(preset="public_chat")
    jack.call("POST", f"/join/{quote(room_id)}?server_name={A}", {})
    jack.call("PUT", f"/rooms/{quote(room_id)}/send/m.room.message/j1", {"msgtype": "m.text", "body": "from B"})
    eventually(lambda: "from B" in messages(ivy, room_id))
    ivy.call("PUT", f"/rooms/{quote(room_id)}/send/m.room.message/i1", {"msgtype": "m.text", "body": "from A"})
    eventually(lambda: "from A" in messages(jack, room_id))


def ephemeral(user: User, room_id: str, event_type: str) -> list[dict[str, Any]]:
    room = user.sync_rooms()["join"].get(room_id, {})
    return [event for event in room.get("ephemeral", {}).get("events", []) if event["type"] == event_type]


def joined_room(servers: dict[str, RunningServer], name: str) -> tuple[User, User, str]:
    """A public room on A with a user of B joined to it: (the user on A, the user on B, the room)."""
    host, guest = User(servers[A], f"{name}_a"), User(servers[B], f"{name}_b")
    room_id = host.create_room(preset="public_chat")
    guest.call("POST", f"/join/{quote(room_id)}?server_name={A}", {})
    eventually(lambda: host.members(room_id).get(guest.user_id) == "join")
    return host, guest, room_id


def test_typing_travels_both_ways(servers: dict[str, RunningServer]) -> None:
    kim, leo, room_id = joined_room(servers, "typing")
    for typist, watcher in ((leo, kim), (kim, leo)):
        typist.call("PUT", f"/rooms/{quote(room_id)}/typing/{quote(typist.user_id)}",
                    {"typing": True, "timeout": 30000})
        eventually(lambda typist=typist, watcher=watcher: any(
            typist.user_id in event["content"]["user_ids"] for event in ephemeral(watcher, room_id, "m.typing")))
        typist.call("PUT", f"/rooms/{quote(room_id)}/typing/{quote(typist.user_id)}", {"typing": False})
        eventually(lambda typist=typist, watcher=watcher: not any(
            typist.user_id in event["content"]["user_ids"] for event in ephemeral(watcher, room_id, "m.typing")))


def test_read_receipts_travel_both_ways(servers: dict[str, RunningServer]) -> None:
    mia, ned, room_id = joined_room(servers, "receipts")
    for reader, writer in ((ned, mia), (mia, ned)):
        event_id = writer.call("PUT", f"/rooms/{quote(room_id)}/send/m.room.message/r-{reader.user_id}",
                               {"msgtype": "m.text", "body": f"read me, {reader.user_id}"})["event_id"]
        eventually(lambda reader=reader, writer=writer: f"read me, {reader.user_id}" in messages(reader, room_id))
        reader.call("POST", f"/rooms/{quote(room_id)}/receipt/m.read/{quote(event_id)}", {})

        def seen(event_id: str = event_id, reader: User = reader, writer: User = writer) -> bool:
            return any(reader.user_id in event["content"].get(event_id, {}).get("m.read", {})
                       for event in ephemeral(writer, room_id, "m.receipt"))
        eventually(seen)


def kill(server: RunningServer) -> None:
    """SIGKILL every process of the server (and its forked children): no clean shutdown."""
    for process in server.processes:
        if process.popen.poll() is None:
            os.killpg(process.popen.pid, signal.SIGKILL)
            process.popen.wait(timeout=15)


def test_a_server_killed_while_the_other_sends_catches_up_when_it_returns(
        servers: dict[str, RunningServer]) -> None:
    olga, pete, room_id = joined_room(servers, "catchup")
    olga.call("PUT", f"/rooms/{quote(room_id)}/send/m.room.message/c0", {"msgtype": "m.text", "body": "up 0"})
    eventually(lambda: "up 0" in messages(pete, room_id))
    kill(servers[B])
    sent = [f"while down {n}" for n in range(5)]
    for n, body in enumerate(sent):
        olga.call("PUT", f"/rooms/{quote(room_id)}/send/m.room.message/d{n}", {"msgtype": "m.text", "body": body})
    time.sleep(3)  # A's sender fails against the dead server and backs off
    servers[B].restart()
    eventually(lambda: sent[-1] in messages(pete, room_id), timeout=60)
    olga.call("PUT", f"/rooms/{quote(room_id)}/send/m.room.message/c1", {"msgtype": "m.text", "body": "up 1"})
    eventually(lambda: "up 1" in messages(pete, room_id), timeout=60)
    assert list(reversed(messages(pete, room_id))) == ["up 0", *sent, "up 1"]
    assert list(reversed(messages(olga, room_id))) == ["up 0", *sent, "up 1"]
