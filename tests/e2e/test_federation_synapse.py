"""Ganglion (a monolith, and a worker deployment with two web processes and two federation senders) and a real
Synapse federate both ways on loopback: a Synapse user joins a Ganglion room and
a Ganglion user joins a Synapse room, and messages travel both ways in each; typing notifications and read
receipts travel both ways too, and media uploaded on either is downloaded (and thumbnailed) through the other, byte
identical. Synapse killed while Ganglion sends gets every message, in order, once, when it
is back (Ganglion's sender catches it up; Synapse fetches what the catch-up transaction skips with
``/get_missing_events``), and Ganglion killed while Synapse sends gets every message, in order, once, when it is
back (Synapse retries a server it held down as soon as that server contacts it; Ganglion fills what Synapse's
catch-up transaction skips with ``/get_missing_events``).

In both directions, a user of one server restricted-joins a room of the other through its membership of the
allowed room, and knocks and is let in by an invite; a Ganglion user and a Synapse user hold an end-to-end
encrypted conversation with matrix-nio (tests/e2e/nio_conversation.py), and a Ganglion guest meets a Synapse room
as Synapse's own guests would meet a remote room. One Synapse and one Ganglion serve the whole module per shape.

Synapse is installed and configured by the project's peer script, bench/synapse_peer.sh (tests/e2e/synapse_peer.py
says how it is made to federate with a loopback Ganglion).
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import trustme
from PIL import Image

from tests.e2e.nio_conversation import Side, encrypted_conversation
from tests.e2e.servers import HOST, RunningServer, ServerTls, _spawn, free_port, start_monolith, start_workers
from tests.e2e.servers import ganglion as ganglion_command
from tests.e2e.synapse_peer import SynapsePeer, start_synapse

pytestmark = [pytest.mark.e2e, pytest.mark.interop]
PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> ServerTls:
    directory = tmp_path_factory.mktemp("synapse-tls")
    ca = trustme.CA()
    issued = ca.issue_cert("localhost", HOST)
    paths = directory / "cert.pem", directory / "key.pem", directory / "ca.pem"
    issued.cert_chain_pems[0].write_to_path(str(paths[0]))
    issued.private_key_pem.write_to_path(str(paths[1]))
    ca.cert_pem.write_to_path(str(paths[2]))
    return ServerTls(*paths)


@pytest.fixture(scope="module", params=["monolith", pytest.param("workers", marks=pytest.mark.workers)])
def peers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          tls: ServerTls) -> Iterator[tuple[RunningServer, SynapsePeer]]:
    synapse_port, ganglion_port = free_port(), free_port()
    synapse = start_synapse(tmp_path_factory.mktemp("synapse"), synapse_port, tls.ca)
    try:
        directory = tmp_path_factory.mktemp(f"ganglion-{request.param}")
        settings: dict[str, Any] = {
            "port": ganglion_port, "server_name": f"localhost:{ganglion_port}", "tls": tls,
            "federation_test_hosts": {synapse.server_name: synapse.base_url},
            "ip_range_whitelist": ["127.0.0.0/8"], "allow_guest_access": True,
            "federation": {"destination_min_retry_interval": "1s", "destination_max_retry_interval": "2s"}}
        if request.param == "monolith":
            ganglion = start_monolith(directory, **settings)
        else:
            ganglion = start_workers(directory, instances=("main", "sender1", "sender2"), web_workers=2,
                                     federation_sender_instances=["sender1", "sender2"], send_federation=False,
                                     **settings)
            # Beat's destination sweep is what retries a destination once its backoff is over.
            ganglion.processes.append(_spawn("beat", ganglion_command("beat", "--config", str(ganglion.config_path)),
                                             directory))
        try:
            yield ganglion, synapse
        finally:
            ganglion.stop()
    finally:
        synapse.stop()


class User:
    """A client-server API user registered (user-interactive auth, dummy stage) on either server; with
    ``guest``, a guest account (``kind=guest``) instead."""

    def __init__(self, base_url: str, name: str, verify: ssl.SSLContext | bool = True, guest: bool = False) -> None:
        self.client = httpx.Client(base_url=f"{base_url}/_matrix/client/v3", verify=verify, timeout=60)
        if guest:
            registered = self.client.post("/register?kind=guest", json={})
            assert registered.status_code == 200, registered.text
            self._logged_in(registered.json())
            return
        body: dict[str, Any] = {"username": name, "password": PASSWORD}
        first = self.client.post("/register", json=body)
        session = first.json().get("session") if first.status_code == 401 else None
        registered = self.client.post("/register", json={**body, "auth": {"type": "m.login.dummy",
                                                                          **({"session": session} if session else {})}})
        assert registered.status_code == 200, registered.text
        self._logged_in(registered.json())

    def _logged_in(self, registered: dict[str, Any]) -> None:
        self.user_id = str(registered["user_id"])
        self.client.headers["Authorization"] = f"Bearer {registered['access_token']}"
        self.next_batch: str | None = None
        self.ephemeral: list[dict[str, Any]] = []

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        response = self.client.request(method, path, json=body)
        assert response.status_code == expect, response.text
        return response.json()

    def members(self, room_id: str) -> dict[str, str]:
        chunk = self.call("GET", f"/rooms/{quote(room_id)}/members")["chunk"]
        return {event["state_key"]: event["content"]["membership"] for event in chunk}

    def messages(self, room_id: str) -> list[str]:
        chunk = self.call("GET", f"/rooms/{quote(room_id)}/messages?dir=b&limit=50")["chunk"]
        return [event["content"].get("body") for event in chunk if event["type"] == "m.room.message"]

    def say(self, room_id: str, body: str) -> None:
        self.call("PUT", f"/rooms/{quote(room_id)}/send/m.room.message/{quote(body)}",
                  {"msgtype": "m.text", "body": body})


def eventually(probe: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.3)


def ganglion_user(ganglion: RunningServer, name: str) -> User:
    assert ganglion.tls is not None
    return User(ganglion.base_url, name, verify=ganglion.tls.context())


def test_a_synapse_user_joins_a_ganglion_room_and_messages_travel_both_ways(
        peers: tuple[RunningServer, SynapsePeer]) -> None:
    ganglion, synapse = peers
    alice, bob = ganglion_user(ganglion, "alice"), User(synapse.base_url, "bob")
    room_id = alice.call("POST", "/createRoom", {"preset": "public_chat", "name": "On Ganglion"})["room_id"]
    bob.call("POST", f"/join/{quote(room_id)}?server_name={quote(ganglion.config()['server_name'])}", {})
    assert bob.members(room_id) == {alice.user_id: "join", bob.user_id: "join"}
    eventually(lambda: alice.members(room_id).get(bob.user_id) == "join")
    bob.say(room_id, "hello from Synapse")
    eventually(lambda: "hello from Synapse" in alice.messages(room_id))
    alice.say(room_id, "hello from Ganglion")
    eventually(lambda: "hello from Ganglion" in bob.messages(room_id))
    assert bob.messages(room_id)[:2] == alice.messages(room_id)[:2] == ["hello from Ganglion", "hello from Synapse"]


def test_a_ganglion_user_joins_a_synapse_room_and_messages_travel_both_ways(
        peers: tuple[RunningServer, SynapsePeer]) -> None:
    ganglion, synapse = peers
    carol, dave = User(synapse.base_url, "carol"), ganglion_user(ganglion, "dave")
    room_id = carol.call("POST", "/createRoom", {"preset": "public_chat", "name": "On Synapse"})["room_id"]
    dave.call("POST", f"/join/{quote(room_id)}?server_name={quote(synapse.server_name)}", {})
    assert dave.members(room_id) == {carol.user_id: "join", dave.user_id: "join"}
    eventually(lambda: carol.members(room_id).get(dave.user_id) == "join")
    dave.say(room_id, "hello from Ganglion")
    eventually(lambda: "hello from Ganglion" in carol.messages(room_id))
    carol.say(room_id, "hello from Synapse")
    eventually(lambda: "hello from Synapse" in dave.messages(room_id))
    assert dave.messages(room_id)[:2] == carol.messages(room_id)[:2] == ["hello from Synapse", "hello from Ganglion"]


def sync(user: User) -> dict[str, Any]:
    """The user's next incremental sync (Synapse answers the same sync request from a cache for a while, so
    polling with no ``since`` would not see anything new)."""
    since = f"?since={quote(user.next_batch)}" if user.next_batch else ""
    synced: dict[str, Any] = user.call("GET", f"/sync{since}")
    user.next_batch = synced["next_batch"]
    return synced


def ephemeral(user: User, room_id: str, event_type: str) -> list[dict[str, Any]]:
    """Every ephemeral event of the room ``user``'s incremental syncs have brought so far."""
    room = sync(user).get("rooms", {}).get("join", {}).get(room_id, {})
    user.ephemeral.extend(room.get("ephemeral", {}).get("events", []))
    return [event for event in user.ephemeral if event["type"] == event_type]


def test_typing_and_read_receipts_travel_both_ways(peers: tuple[RunningServer, SynapsePeer]) -> None:
    ganglion, synapse = peers
    erin, frank = ganglion_user(ganglion, "erin"), User(synapse.base_url, "frank")
    room_id = erin.call("POST", "/createRoom", {"preset": "public_chat"})["room_id"]
    frank.call("POST", f"/join/{quote(room_id)}?server_name={quote(ganglion.config()['server_name'])}", {})
    eventually(lambda: erin.members(room_id).get(frank.user_id) == "join")
    for typist, watcher in ((frank, erin), (erin, frank)):
        typist.call("PUT", f"/rooms/{quote(room_id)}/typing/{quote(typist.user_id)}",
                    {"typing": True, "timeout": 30000})
        eventually(lambda typist=typist, watcher=watcher: any(
            typist.user_id in event["content"]["user_ids"] for event in ephemeral(watcher, room_id, "m.typing")))
    for reader, writer in ((frank, erin), (erin, frank)):
        body = f"read me, {reader.user_id}"
        event_id = writer.call("PUT", f"/rooms/{quote(room_id)}/send/m.room.message/{quote(body)}",
                               {"msgtype": "m.text", "body": body})["event_id"]
        eventually(lambda reader=reader, body=body: body in reader.messages(room_id))
        reader.call("POST", f"/rooms/{quote(room_id)}/receipt/m.read/{quote(event_id)}", {})

        def seen(event_id: str = event_id, reader: User = reader, writer: User = writer) -> bool:
            return any(reader.user_id in event["content"].get(event_id, {}).get("m.read", {})
                       for event in ephemeral(writer, room_id, "m.receipt"))
        eventually(seen)


def _upload(user: User, data: bytes, content_type: str, filename: str) -> tuple[str, str]:
    """Upload on ``user``'s server; (server name, media id) of the ``mxc://`` URI it gave."""
    answer = user.client.post(f"{_origin(user)}/_matrix/media/v3/upload?filename={quote(filename)}", content=data,
                              headers={"Content-Type": content_type})
    assert answer.status_code == 200, answer.text
    server_name, _, media_id = str(answer.json()["content_uri"]).removeprefix("mxc://").rpartition("/")
    return server_name, media_id


def _origin(user: User) -> str:
    return str(user.client.base_url).removesuffix("/").removesuffix("/_matrix/client/v3")


def _media(user: User, kind: str, server_name: str, media_id: str, query: str = "") -> httpx.Response:
    """``GET /_matrix/client/v1/media/{kind}/...`` (authenticated media, spec v1.11) on ``user``'s server."""
    answer = user.client.get(f"{_origin(user)}/_matrix/client/v1/media/{kind}/{server_name}/{media_id}{query}")
    assert answer.status_code == 200, answer.text
    return answer


def test_media_uploaded_on_either_server_is_served_byte_identical_by_the_other(
        peers: tuple[RunningServer, SynapsePeer]) -> None:
    """Over the spec v1.11 federation media endpoints both ways: Ganglion's media task fetches from Synapse
    (download, and Synapse's own thumbnail), and Synapse fetches from Ganglion."""
    ganglion, synapse = peers
    kim, lee = ganglion_user(ganglion, "kim"), User(synapse.base_url, "lee")
    picture = _noise_png(400, 300)
    on_synapse = _upload(lee, picture, "image/png", "sunset.png")
    fetched = _media(kim, "download", *on_synapse)
    assert fetched.content == picture
    assert "sunset.png" in fetched.headers["Content-Disposition"]
    crop = "?width=64&height=64&method=crop"
    assert _media(kim, "thumbnail", *on_synapse, crop).content == _media(lee, "thumbnail", *on_synapse, crop).content, (
        "the thumbnail Synapse made for that size and method, as Synapse serves it to its own users")

    data = os.urandom(300_000)
    on_ganglion = _upload(kim, data, "application/octet-stream", "blob.bin")
    assert _media(lee, "download", *on_ganglion).content == data
    image_on_ganglion = _upload(kim, picture, "image/png", "copy.png")
    thumbnail = _media(lee, "thumbnail", *image_on_ganglion, "?width=96&height=96&method=crop")
    assert thumbnail.headers["Content-Type"].startswith("image/")


def _noise_png(width: int, height: int) -> bytes:
    """A PNG of random pixels: large enough that a thumbnail is a real reduction, and unlike any other upload."""
    output = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(output, "PNG")
    return output.getvalue()


def test_synapse_killed_while_ganglion_sends_catches_up_when_it_returns(
        peers: tuple[RunningServer, SynapsePeer]) -> None:
    ganglion, synapse = peers
    gus, hal = ganglion_user(ganglion, "gus"), User(synapse.base_url, "hal")
    room_id = gus.call("POST", "/createRoom", {"preset": "public_chat"})["room_id"]
    hal.call("POST", f"/join/{quote(room_id)}?server_name={quote(ganglion.config()['server_name'])}", {})
    eventually(lambda: gus.members(room_id).get(hal.user_id) == "join")
    gus.say(room_id, "up 0")
    eventually(lambda: "up 0" in hal.messages(room_id))
    synapse.kill()
    sent = [f"while down {n}" for n in range(5)]
    for body in sent:
        gus.say(room_id, body)
    time.sleep(3)  # Ganglion's sender fails against the dead server and backs off
    synapse.start()
    eventually(lambda: sent[-1] in hal.messages(room_id), timeout=90)
    gus.say(room_id, "up 1")
    eventually(lambda: "up 1" in hal.messages(room_id))
    assert list(reversed(hal.messages(room_id))) == ["up 0", *sent, "up 1"]


def test_ganglion_killed_while_synapse_sends_catches_up_when_it_returns(
        peers: tuple[RunningServer, SynapsePeer]) -> None:
    ganglion, synapse = peers
    ian, jon = User(synapse.base_url, "ian"), ganglion_user(ganglion, "jon")
    room_id = ian.call("POST", "/createRoom", {"preset": "public_chat"})["room_id"]
    jon.call("POST", f"/join/{quote(room_id)}?server_name={quote(synapse.server_name)}", {})
    eventually(lambda: ian.members(room_id).get(jon.user_id) == "join")
    ian.say(room_id, "up 0")
    eventually(lambda: "up 0" in jon.messages(room_id))
    for process in ganglion.processes:
        os.killpg(process.popen.pid, signal.SIGKILL)
        process.popen.wait(timeout=15)
    sent = [f"while down {n}" for n in range(5)]
    for body in sent:
        ian.say(room_id, body)
    time.sleep(3)  # Synapse's sender fails against the dead server and backs off
    ganglion.restart()
    jon.say(room_id, "back")  # Ganglion contacts Synapse, which ends its backoff and catches Ganglion up
    eventually(lambda: sent[-1] in jon.messages(room_id), timeout=90)
    ian.say(room_id, "up 1")
    eventually(lambda: "up 1" in jon.messages(room_id))
    assert [body for body in reversed(jon.messages(room_id)) if body != "back"] == ["up 0", *sent, "up 1"]
    assert list(reversed(jon.messages(room_id))).count("back") == 1


def ganglion_side(ganglion: RunningServer) -> Side:
    assert ganglion.tls is not None
    return Side(ganglion, ganglion.config()["server_name"], ganglion.tls.context())


@pytest.mark.parametrize("inviting", ["ganglion", "synapse"])
def test_an_encrypted_conversation_and_a_later_device_with_matrix_nio(
        peers: tuple[RunningServer, SynapsePeer], inviting: str, tmp_path: Path) -> None:
    """Keys query and claim go to the other server; the invited user's later device reaches the inviting server
    as a device list update (Ganglion's to Synapse, and Synapse's to Ganglion)."""
    ganglion, synapse = peers
    sides = {"ganglion": ganglion_side(ganglion), "synapse": Side(synapse, synapse.server_name)}
    invited = "synapse" if inviting == "ganglion" else "ganglion"
    asyncio.run(encrypted_conversation(sides[inviting], sides[invited], tmp_path))


def users_across(peers: tuple[RunningServer, SynapsePeer], hosting: str, name: str) -> tuple[User, User, str]:
    """A user on the ``hosting`` server, a user on the other one, and the hosting server's name."""
    ganglion, synapse = peers
    on_ganglion = ganglion_user(ganglion, f"{name}_{hosting}_g")
    on_synapse = User(synapse.base_url, f"{name}_{hosting}_s")
    if hosting == "ganglion":
        return on_ganglion, on_synapse, ganglion.config()["server_name"]
    return on_synapse, on_ganglion, synapse.server_name


@pytest.mark.parametrize("hosting", ["ganglion", "synapse"])
def test_a_restricted_room_admits_a_remote_member_of_the_allowed_room(
        peers: tuple[RunningServer, SynapsePeer], hosting: str) -> None:
    """Room version 10's ``restricted`` join rule: the resident server checks the allowed room's membership and
    countersigns the join, naming its user in ``join_authorised_via_users_server`` (spec: "Restricted rooms")."""
    owner, joiner, host = users_across(peers, hosting, "restricted")
    space = owner.call("POST", "/createRoom", {"preset": "public_chat"})["room_id"]
    room_id = owner.call("POST", "/createRoom", {"room_version": "10", "initial_state": [
        {"type": "m.room.join_rules", "state_key": "",
         "content": {"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": space}]}}]},
    )["room_id"]
    refused = joiner.client.post(f"/join/{quote(room_id)}?server_name={quote(host)}", json={})
    assert refused.status_code == 403, refused.text
    joiner.call("POST", f"/join/{quote(space)}?server_name={quote(host)}", {})
    joiner.call("POST", f"/join/{quote(room_id)}?server_name={quote(host)}", {})
    assert joiner.members(room_id) == {owner.user_id: "join", joiner.user_id: "join"}
    eventually(lambda: owner.members(room_id).get(joiner.user_id) == "join")
    path = f"/rooms/{quote(room_id)}/state/m.room.member/{quote(joiner.user_id)}"
    for user in (owner, joiner):
        assert user.call("GET", path)["join_authorised_via_users_server"] == owner.user_id


@pytest.mark.parametrize("hosting", ["ganglion", "synapse"])
def test_a_remote_knock_is_seen_answered_with_an_invite_and_joined(
        peers: tuple[RunningServer, SynapsePeer], hosting: str) -> None:
    """make_knock/send_knock (room version 7+): the knocker's server gets the stripped state, the resident sees
    the knock, and its invite lets the knocker in."""
    owner, knocker, host = users_across(peers, hosting, "knock")
    room_id = owner.call("POST", "/createRoom", {"room_version": "7", "name": f"Knock on {hosting}",
                                                  "initial_state": [{"type": "m.room.join_rules", "state_key": "",
                                                                     "content": {"join_rule": "knock"}}]})["room_id"]
    knocker.call("POST", f"/knock/{quote(room_id)}?server_name={quote(host)}", {"reason": "let me in"})
    knock = sync(knocker)["rooms"]["knock"][room_id]["knock_state"]["events"]
    assert {"m.room.create", "m.room.join_rules", "m.room.name"} <= {event["type"] for event in knock}
    eventually(lambda: owner.members(room_id).get(knocker.user_id) == "knock")
    owner.call("POST", f"/rooms/{quote(room_id)}/invite", {"user_id": knocker.user_id})
    eventually(lambda: room_id in sync(knocker).get("rooms", {}).get("invite", {}))
    knocker.call("POST", f"/rooms/{quote(room_id)}/join", {})
    eventually(lambda: owner.members(room_id).get(knocker.user_id) == "join")
    assert knocker.members(room_id)[knocker.user_id] == "join"


def test_a_guest_joins_a_synapse_room_only_through_a_joined_ganglion_and_leaves_when_guests_are_shut_out(
        peers: tuple[RunningServer, SynapsePeer]) -> None:
    """Guests are a local concept: Ganglion, like Synapse, judges a guest's join by its own view of the room, so a
    guest cannot be the first of its server into a remote room, but joins one a Ganglion user is in when its
    ``m.room.guest_access`` is ``can_join``; when the resident server revokes guest access, the guest leaves."""
    ganglion, synapse = peers
    owner, member = User(synapse.base_url, "guest_host"), ganglion_user(ganglion, "guest_friend")
    assert ganglion.tls is not None
    guest = User(ganglion.base_url, "", verify=ganglion.tls.context(), guest=True)
    room_id = owner.call("POST", "/createRoom", {"preset": "public_chat", "initial_state": [
        {"type": "m.room.guest_access", "state_key": "", "content": {"guest_access": "can_join"}}]})["room_id"]
    via = f"?server_name={quote(synapse.server_name)}"
    refused = guest.client.post(f"/join/{quote(room_id)}{via}", json={})
    assert (refused.status_code, refused.json()["errcode"]) == (403, "M_GUEST_ACCESS_FORBIDDEN")
    member.call("POST", f"/join/{quote(room_id)}{via}", {})
    guest.call("POST", f"/join/{quote(room_id)}{via}", {})
    path = f"/rooms/{quote(room_id)}/state/m.room.member/{quote(guest.user_id)}"
    eventually(lambda: owner.client.get(path).status_code == 200)
    membership = owner.call("GET", path)
    assert (membership["membership"], membership["kind"]) == ("join", "guest")
    owner.call("PUT", f"/rooms/{quote(room_id)}/state/m.room.guest_access", {"guest_access": "forbidden"})
    eventually(lambda: owner.members(room_id).get(guest.user_id) == "leave")
    assert member.members(room_id) == {owner.user_id: "join", member.user_id: "join", guest.user_id: "leave"}
