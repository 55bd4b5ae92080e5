"""EDUs between servers, as HTTP conversations with a monolith: inbound EDUs (``receive_edus``, what ``/send``
hands over) reach the stream writers only when their origin speaks for the user; a ``sendToDevice`` to a remote
user leaves as ``m.direct_to_device`` with a message id that a retried transaction repeats."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tasks import api as tasks_api
from tests.conftest import HomeserverFactory
from tests.federation_remote import RemoteServer, running_remote_server
from tests.homeserver import HomeserverUnderTest
from web.federation.edus import HANDLERS, receive_edus

REMOTE = "remote.test"
BOB = "@bob:remote.test"


@pytest.fixture
def shape() -> str:
    return "monolith"  # the session's Celery worker cannot reach a per-test remote server


@pytest.fixture
def remote() -> Iterator[RemoteServer]:
    with running_remote_server() as server:
        yield server


@pytest.fixture
def server(make_homeserver: HomeserverFactory, remote: RemoteServer) -> HomeserverUnderTest:
    return make_homeserver(federation_test_hosts={REMOTE: remote.base_url}, ip_range_whitelist=["127.0.0.0/8"])


def _room_with_bob(server: HomeserverUnderTest) -> tuple[str, dict[str, Any]]:
    alice = server.register("alice")
    room_id = server.post("/_matrix/client/v3/createRoom", json={"preset": "public_chat"},
                          token=alice["access_token"]).json["room_id"]
    tasks_api.create_event(server.deps.dispatcher, room_id=room_id, sender=BOB, event_type="m.room.member",
                           state_key=BOB, content={"membership": "join"})
    return room_id, alice


def _typers(server: HomeserverUnderTest, room_id: str) -> set[str]:
    now = server.clock.now_ms()
    with server.deps.database.read() as conn:
        return {user for user, until in server.deps.stores.typing.get_room_expiries(conn, room_id).items()
                if until > now}


def test_the_dispatch_table_covers_the_ephemeral_edus() -> None:
    assert {"m.typing", "m.receipt", "m.presence", "m.direct_to_device"} <= set(HANDLERS)


def test_a_remote_users_typing_is_taken_from_their_server_only(server: HomeserverUnderTest) -> None:
    room_id, _ = _room_with_bob(server)
    edu = {"edu_type": "m.typing", "content": {"room_id": room_id, "user_id": BOB, "typing": True}}
    receive_edus(server.deps, "evil.test", [edu])
    assert _typers(server, room_id) == set()
    receive_edus(server.deps, REMOTE, [{"edu_type": "m.unknown", "content": {}}, "junk", edu])  # type: ignore[list-item]
    assert _typers(server, room_id) == {BOB}


def test_typing_in_a_room_the_user_is_not_in_is_dropped(server: HomeserverUnderTest) -> None:
    alice = server.register("alice")
    room_id = server.post("/_matrix/client/v3/createRoom", json={}, token=alice["access_token"]).json["room_id"]
    receive_edus(server.deps, REMOTE, [{"edu_type": "m.typing",
                                        "content": {"room_id": room_id, "user_id": BOB, "typing": True}}])
    assert _typers(server, room_id) == set()


def test_a_remote_read_receipt_is_stored(server: HomeserverUnderTest) -> None:
    room_id, alice = _room_with_bob(server)
    event_id = server.put(f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/1",
                          json={"msgtype": "m.text", "body": "hi"}, token=alice["access_token"]).json["event_id"]
    content = {room_id: {"m.read": {BOB: {"event_ids": [event_id], "data": {"ts": 1}}}}}
    receive_edus(server.deps, "evil.test", [{"edu_type": "m.receipt", "content": content}])
    with server.deps.database.read() as conn:
        assert server.deps.stores.receipts.get_receipt_stream_ordering(conn, room_id, BOB, "m.read", "") is None
    receive_edus(server.deps, REMOTE, [{"edu_type": "m.receipt", "content": content}])
    with server.deps.database.read() as conn:
        assert server.deps.stores.receipts.get_receipt_stream_ordering(conn, room_id, BOB, "m.read", "") is not None


def test_remote_presence_is_stored_for_users_of_the_origin(server: HomeserverUnderTest) -> None:
    push = [{"user_id": BOB, "presence": "online", "status_msg": "hello", "last_active_ago": 5,
             "currently_active": True},
            {"user_id": "@mallory:evil.test", "presence": "online"}]
    receive_edus(server.deps, REMOTE, [{"edu_type": "m.presence", "content": {"push": push}}])
    with server.deps.database.read() as conn:
        bob = server.deps.stores.presence.get_presence(conn, BOB)
        mallory = server.deps.stores.presence.get_presence(conn, "@mallory:evil.test")
    assert (bob.state, bob.status_msg) == ("online", "hello")
    assert mallory.state == "offline"


def test_a_remote_to_device_message_reaches_the_local_device(server: HomeserverUnderTest) -> None:
    alice = server.register("alice")
    content = {"sender": BOB, "type": "m.room_key_request", "message_id": "m1",
               "messages": {alice["user_id"]: {alice["device_id"]: {"body": "secret"}}}}
    receive_edus(server.deps, REMOTE, [{"edu_type": "m.direct_to_device", "content": content}])
    receive_edus(server.deps, REMOTE, [{"edu_type": "m.direct_to_device", "content": content}])  # a repeat
    events = server.get("/_matrix/client/v3/sync", token=alice["access_token"]).json["to_device"]["events"]
    assert events == [{"sender": BOB, "type": "m.room_key_request", "content": {"body": "secret"}}]


def test_send_to_device_for_a_remote_user_leaves_as_direct_to_device(server: HomeserverUnderTest,
                                                                     remote: RemoteServer) -> None:
    alice = server.register("alice")
    body = {"messages": {BOB: {"DEVICE": {"algorithm": "m.olm.v1", "ciphertext": {}}}}}
    for _ in range(2):  # the client retries its transaction
        response = server.put("/_matrix/client/v3/sendToDevice/m.room.encrypted/txn1", json=body,
                              token=alice["access_token"])
        assert response.status_code == 200

    def sent() -> list[dict[str, Any]] | None:
        found = [edu for item in remote.received for edu in item.edus("m.direct_to_device")]
        return found if len(found) >= 2 else None

    edus = server.eventually(sent)
    assert edus[0]["sender"] == alice["user_id"]
    assert edus[0]["type"] == "m.room.encrypted"
    assert edus[0]["messages"] == body["messages"]
    assert edus[0]["message_id"] == edus[1]["message_id"]  # the destination drops the repeat
