"""matrix-nio drives rooms end to end, in both shapes: presets, invites, joins, messages, edits, reactions,
names and topics, kicks and bans — and everything is still there after the server restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nio import (
    AsyncClient,
    JoinedMembersResponse,
    JoinedRoomsResponse,
    JoinResponse,
    RoomBanResponse,
    RoomCreateResponse,
    RoomGetEventResponse,
    RoomGetStateEventResponse,
    RoomGetStateResponse,
    RoomKickResponse,
    RoomPreset,
    RoomPutStateResponse,
    RoomSendResponse,
)

from tests.e2e.servers import SERVER_NAME, RunningServer, start_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=["monolith", "workers"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(request.param, Path(tmp_path_factory.mktemp(f"rooms-{request.param}")))
    yield running
    running.stop()


async def _client(server: RunningServer, name: str) -> AsyncClient:
    client = AsyncClient(server.base_url, f"@{name}:{SERVER_NAME}")
    response = await client.register(name, "pw")
    assert response.user_id == f"@{name}:{SERVER_NAME}", response
    return client


def _ok(response: Any, kind: type) -> Any:
    assert isinstance(response, kind), response
    return response


def test_rooms_conversation_survives_a_restart(server: RunningServer) -> None:
    async def conversation() -> dict[str, str]:
        alice, bob = await _client(server, "alice"), await _client(server, "bob")
        try:
            public = _ok(await alice.room_create(name="Lobby", topic="Say hi", preset=RoomPreset.public_chat),
                         RoomCreateResponse).room_id
            private = _ok(await alice.room_create(preset=RoomPreset.private_chat, invite=[bob.user_id],
                                                  is_direct=True), RoomCreateResponse).room_id
            trusted = _ok(await alice.room_create(preset=RoomPreset.trusted_private_chat), RoomCreateResponse)
            assert trusted.room_id.startswith("!")

            _ok(await bob.join(public), JoinResponse)
            _ok(await bob.join(private), JoinResponse)
            hello = _ok(await bob.room_send(public, "m.room.message", {"msgtype": "m.text", "body": "hello"}),
                        RoomSendResponse).event_id
            edit = {"msgtype": "m.text", "body": "* hello!", "m.new_content": {"msgtype": "m.text", "body": "hello!"},
                    "m.relates_to": {"rel_type": "m.replace", "event_id": hello}}
            edited = _ok(await bob.room_send(public, "m.room.message", edit), RoomSendResponse).event_id
            reaction = {"m.relates_to": {"rel_type": "m.annotation", "event_id": hello, "key": "👋"}}
            _ok(await alice.room_send(public, "m.reaction", reaction), RoomSendResponse)
            _ok(await alice.room_put_state(public, "m.room.name", {"name": "The Lobby"}), RoomPutStateResponse)

            members = _ok(await alice.joined_members(public), JoinedMembersResponse).members
            assert {member.user_id for member in members} == {alice.user_id, bob.user_id}
            _ok(await alice.room_kick(private, bob.user_id, reason="bye"), RoomKickResponse)
            _ok(await alice.room_ban(private, bob.user_id), RoomBanResponse)
            assert private not in _ok(await bob.joined_rooms(), JoinedRoomsResponse).rooms
            return {"public": public, "private": private, "hello": hello, "edited": edited}
        finally:
            await alice.close()
            await bob.close()

    ids = asyncio.run(conversation())
    server.restart()

    async def after_restart() -> None:
        alice = AsyncClient(server.base_url, f"@alice:{SERVER_NAME}")
        try:
            await alice.login("pw")
            rooms = set(_ok(await alice.joined_rooms(), JoinedRoomsResponse).rooms)
            assert {ids["public"], ids["private"]} <= rooms
            name = _ok(await alice.room_get_state_event(ids["public"], "m.room.name"), RoomGetStateEventResponse)
            assert name.content == {"name": "The Lobby"}
            topic = _ok(await alice.room_get_state_event(ids["public"], "m.room.topic"), RoomGetStateEventResponse)
            assert topic.content == {"topic": "Say hi"}
            state = _ok(await alice.room_get_state(ids["private"]), RoomGetStateResponse).events
            bans = [event for event in state if event["type"] == "m.room.member"
                    and event["content"]["membership"] == "ban"]
            assert [event["state_key"] for event in bans] == [f"@bob:{SERVER_NAME}"]
            edited = _ok(await alice.room_get_event(ids["public"], ids["edited"]), RoomGetEventResponse)
            assert edited.event.source["content"]["m.relates_to"] == {"rel_type": "m.replace",
                                                                    "event_id": ids["hello"]}
        finally:
            await alice.close()

    asyncio.run(after_restart())
