"""matrix-nio drives rooms end to end, in every shape: presets, invites, joins, messages, edits, reactions,
names and topics, kicks and bans — and everything is still there after the server restarts; then redactions,
history paged both ways, aliases and the published room directory, on the same server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from nio import (
    AsyncClient,
    JoinedMembersResponse,
    JoinedRoomsResponse,
    JoinResponse,
    MessageDirection,
    RoomBanResponse,
    RoomCreateResponse,
    RoomDeleteAliasResponse,
    RoomGetEventResponse,
    RoomGetStateEventResponse,
    RoomGetStateResponse,
    RoomGetVisibilityResponse,
    RoomKickResponse,
    RoomMessagesResponse,
    RoomPreset,
    RoomPutAliasResponse,
    RoomPutStateResponse,
    RoomRedactResponse,
    RoomResolveAliasError,
    RoomResolveAliasResponse,
    RoomSendResponse,
)
from nio.responses import PublicRoomsResponse

from tests.e2e.nio_clients import expect, registered_client
from tests.e2e.servers import E2E_SHAPES, SERVER_NAME, RunningServer, serving

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=E2E_SHAPES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with serving(request, tmp_path_factory, "rooms") as running:
        yield running


def test_rooms_conversation_survives_a_restart(server: RunningServer) -> None:
    async def conversation() -> dict[str, str]:
        alice, bob = await registered_client(server, "alice"), await registered_client(server, "bob")
        try:
            public = expect(await alice.room_create(name="Lobby", topic="Say hi", preset=RoomPreset.public_chat),
                         RoomCreateResponse).room_id
            private = expect(await alice.room_create(preset=RoomPreset.private_chat, invite=[bob.user_id],
                                                  is_direct=True), RoomCreateResponse).room_id
            trusted = expect(await alice.room_create(preset=RoomPreset.trusted_private_chat), RoomCreateResponse)
            assert trusted.room_id.startswith("!")

            expect(await bob.join(public), JoinResponse)
            expect(await bob.join(private), JoinResponse)
            hello = expect(await bob.room_send(public, "m.room.message", {"msgtype": "m.text", "body": "hello"}),
                        RoomSendResponse).event_id
            edit = {"msgtype": "m.text", "body": "* hello!", "m.new_content": {"msgtype": "m.text", "body": "hello!"},
                    "m.relates_to": {"rel_type": "m.replace", "event_id": hello}}
            edited = expect(await bob.room_send(public, "m.room.message", edit), RoomSendResponse).event_id
            reaction = {"m.relates_to": {"rel_type": "m.annotation", "event_id": hello, "key": "👋"}}
            expect(await alice.room_send(public, "m.reaction", reaction), RoomSendResponse)
            expect(await alice.room_put_state(public, "m.room.name", {"name": "The Lobby"}), RoomPutStateResponse)

            members = expect(await alice.joined_members(public), JoinedMembersResponse).members
            assert {member.user_id for member in members} == {alice.user_id, bob.user_id}
            expect(await alice.room_kick(private, bob.user_id, reason="bye"), RoomKickResponse)
            expect(await alice.room_ban(private, bob.user_id), RoomBanResponse)
            assert private not in expect(await bob.joined_rooms(), JoinedRoomsResponse).rooms
            return {"public": public, "private": private, "hello": hello, "edited": edited,
                    "alice": alice.user_id, "bob": bob.user_id}
        finally:
            await alice.close()
            await bob.close()

    ids = asyncio.run(conversation())
    server.restart()

    async def after_restart() -> None:
        alice = AsyncClient(server.base_url, ids["alice"])
        try:
            await alice.login("pw")
            rooms = set(expect(await alice.joined_rooms(), JoinedRoomsResponse).rooms)
            assert {ids["public"], ids["private"]} <= rooms
            name = expect(await alice.room_get_state_event(ids["public"], "m.room.name"), RoomGetStateEventResponse)
            assert name.content == {"name": "The Lobby"}
            topic = expect(await alice.room_get_state_event(ids["public"], "m.room.topic"), RoomGetStateEventResponse)
            assert topic.content == {"topic": "Say hi"}
            state = expect(await alice.room_get_state(ids["private"]), RoomGetStateResponse).events
            bans = [event for event in state if event["type"] == "m.room.member"
                    and event["content"]["membership"] == "ban"]
            assert [event["state_key"] for event in bans] == [ids["bob"]]
            edited = expect(await alice.room_get_event(ids["public"], ids["edited"]), RoomGetEventResponse)
            assert edited.event.source["content"]["m.relates_to"] == {"rel_type": "m.replace",
                                                                    "event_id": ids["hello"]}
        finally:
            await alice.close()

    asyncio.run(after_restart())


async def _pages(client: AsyncClient, room_id: str, direction: MessageDirection) -> list[list[dict[str, Any]]]:
    """Every page of the room's history in one direction, five events at a time, until no ``end`` is given."""
    pages: list[list[dict[str, Any]]] = []
    token: str | None = None
    while True:
        page = expect(await client.room_messages(room_id, start=token, direction=direction, limit=5),
                   RoomMessagesResponse)
        pages.append([event.source for event in page.chunk])
        if page.end is None:
            return pages
        assert len(pages) < 20, "pagination does not end"
        token = page.end


def test_redact_paginate_aliases_and_the_directory(server: RunningServer) -> None:
    async def conversation() -> None:
        carol, dave = await registered_client(server, "carol"), await registered_client(server, "dave")
        try:
            room_id = expect(await carol.room_create(name="Gallery", preset=RoomPreset.public_chat),
                          RoomCreateResponse).room_id
            expect(await dave.join(room_id), JoinResponse)
            sent = [expect(await carol.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": f"m{n}"}),
                        RoomSendResponse).event_id for n in range(12)]
            expect(await carol.room_redact(room_id, sent[3], reason="oops"), RoomRedactResponse)

            backwards = await _pages(dave, room_id, MessageDirection.back)
            forwards = await _pages(dave, room_id, MessageDirection.front)
            assert len(backwards) >= 3 and len(forwards) >= 3
            newest_first = [event for page in backwards for event in page]
            oldest_first = [event for page in forwards for event in page]
            assert [event["event_id"] for event in oldest_first] == [event["event_id"] for event in
                                                                     reversed(newest_first)]
            messages = [event for event in oldest_first if event["event_id"] in sent]
            assert [event["event_id"] for event in messages] == sent
            redacted = messages[3]
            because = redacted["unsigned"]["redacted_because"]
            assert redacted["content"] == {} and because["content"]["reason"] == "oops"
            assert because["redacts"] == because["content"]["redacts"] == sent[3]
            assert [event["content"]["body"] for event in messages if event is not redacted] == [
                f"m{n}" for n in range(12) if n != 3]

            alias = f"#gallery:{SERVER_NAME}"
            expect(await carol.room_put_alias(alias, room_id), RoomPutAliasResponse)
            assert expect(await dave.room_resolve_alias(alias), RoomResolveAliasResponse).room_id == room_id
            expect(await carol.room_delete_alias(alias), RoomDeleteAliasResponse)
            expect(await dave.room_resolve_alias(alias), RoomResolveAliasError)

            assert expect(await dave.room_get_visibility(room_id), RoomGetVisibilityResponse).visibility == "private"
            published = await carol.send("PUT", f"/_matrix/client/v3/directory/list/room/{room_id}",
                                         json.dumps({"visibility": "public"}),
                                         headers={"Authorization": f"Bearer {carol.access_token}",
                                                  "Content-Type": "application/json"})
            assert published.status == 200, await published.text()
            assert expect(await dave.room_get_visibility(room_id), RoomGetVisibilityResponse).visibility == "public"
            listed = expect(await dave.list_public_rooms(), PublicRoomsResponse).public_rooms
            assert [(room.room_id, room.name, room.num_joined_members) for room in listed
                    if room.room_id == room_id] == [(room_id, "Gallery", 2)]
        finally:
            await carol.close()
            await dave.close()

    asyncio.run(conversation())
