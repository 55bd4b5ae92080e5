"""End-to-end encryption with matrix-nio (vodozemac): two users in an encrypted room each decrypt what the other
sent, the server stores only ciphertext, and a device added later receives the room key over to-device."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from nio import (
    AsyncClient,
    JoinResponse,
    MegolmEvent,
    RoomCreateResponse,
    RoomMessageText,
    RoomPreset,
    RoomSendResponse,
    ShareGroupSessionResponse,
)

from tests.e2e.nio_clients import encrypting_client, encrypting_device, expect, sync_and_keep_keys
from tests.e2e.servers import E2E_SHAPES, RunningServer, query, serving

pytestmark = pytest.mark.e2e

ENCRYPTION = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}


@pytest.fixture(scope="module", params=E2E_SHAPES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with serving(request, tmp_path_factory, "e2e-keys") as running:
        yield running


async def _received(client: AsyncClient, room_id: str, body: str, attempts: int = 20) -> RoomMessageText:
    """Sync until the message ``body`` arrives decrypted (the device lists of the worker shape may need a hop)."""
    for _ in range(attempts):
        response = await sync_and_keep_keys(client)
        room = response.rooms.join.get(room_id)
        for event in room.timeline.events if room else []:
            if isinstance(event, RoomMessageText) and event.body == body:
                assert event.decrypted, "an encrypted room's message arrives encrypted"
                return event
            assert not isinstance(event, MegolmEvent), f"{client.device_id} could not decrypt {event.event_id}"
        await asyncio.sleep(0.1)
    raise AssertionError(f"{client.user_id}/{client.device_id} never received {body!r}")


async def _send(client: AsyncClient, room_id: str, body: str) -> str:
    response = await client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": body},
                                      ignore_unverified_devices=True)
    return str(expect(response, RoomSendResponse).event_id)


def test_encrypted_conversation_and_a_late_device(server: RunningServer, tmp_path: Path) -> None:
    async def conversation() -> None:
        alice = await encrypting_client(server, "alice", tmp_path / "alice")
        bob = await encrypting_client(server, "bob", tmp_path / "bob")
        bob_later: AsyncClient | None = None
        try:
            for client in (alice, bob):
                await sync_and_keep_keys(client)
            room_id = expect(await alice.room_create(preset=RoomPreset.private_chat, invite=[bob.user_id],
                                                     initial_state=[ENCRYPTION]), RoomCreateResponse).room_id
            await sync_and_keep_keys(bob)
            expect(await bob.join(room_id), JoinResponse)
            for client in (alice, bob, alice):
                await sync_and_keep_keys(client)
            assert alice.rooms[room_id].encrypted

            hello = await _send(alice, room_id, "hello bob, secretly")
            await _received(bob, room_id, "hello bob, secretly")
            await _send(bob, room_id, "hello alice, secretly")
            await _received(alice, room_id, "hello alice, secretly")

            stored = query(server, "SELECT type, json FROM events WHERE event_id = :event_id", event_id=hello)
            assert stored[0][0] == "m.room.encrypted"
            assert "secretly" not in stored[0][1] and '"ciphertext"' in stored[0][1]
            plain = query(server, "SELECT count(*) FROM events WHERE room_id = :room_id AND json LIKE :text",
                          room_id=room_id, text="%secretly%")
            assert plain == [(0,)], "no plaintext reached the server"

            bob_later = await encrypting_device(server, bob.user_id, tmp_path / "bob-later")
            await sync_and_keep_keys(bob_later)
            for _ in range(50):  # alice learns of the new device from device_lists.changed, then its keys
                await sync_and_keep_keys(alice)
                if bob_later.device_id in alice.device_store[bob.user_id]:
                    break
                await asyncio.sleep(0.1)
            assert bob_later.device_id in alice.device_store[bob.user_id], "the new device's keys were never seen"
            expect(await alice.share_group_session(room_id, ignore_unverified_devices=True),
                   ShareGroupSessionResponse)
            await _send(alice, room_id, "welcome, later device")
            await _received(bob_later, room_id, "welcome, later device")
            await _received(bob, room_id, "welcome, later device")
        finally:
            for client in (alice, bob, bob_later):
                if client is not None:
                    await client.close()

    asyncio.run(conversation())
