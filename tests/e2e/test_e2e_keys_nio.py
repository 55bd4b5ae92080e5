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
    RoomCreateResponse,
    RoomPreset,
    ShareGroupSessionResponse,
)

from tests.e2e.nio_clients import (
    encrypting_client,
    encrypting_device,
    expect,
    received_decrypted,
    send_text,
    sync_and_keep_keys,
)
from tests.e2e.servers import E2E_SHAPES, RunningServer, query, serving

pytestmark = pytest.mark.e2e

ENCRYPTION = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}


@pytest.fixture(scope="module", params=E2E_SHAPES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with serving(request, tmp_path_factory, "e2e-keys") as running:
        yield running


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

            hello = await send_text(alice, room_id, "hello bob, secretly")
            await received_decrypted(bob, room_id, "hello bob, secretly", attempts=20, pause=0.1)
            await send_text(bob, room_id, "hello alice, secretly")
            await received_decrypted(alice, room_id, "hello alice, secretly", attempts=20, pause=0.1)

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
            await send_text(alice, room_id, "welcome, later device")
            await received_decrypted(bob_later, room_id, "welcome, later device", attempts=20, pause=0.1)
            await received_decrypted(bob, room_id, "welcome, later device", attempts=20, pause=0.1)
        finally:
            for client in (alice, bob, bob_later):
                if client is not None:
                    await client.close()

    asyncio.run(conversation())
