"""An end-to-end encrypted conversation across two servers with matrix-nio (vodozemac), shared by the federation
tests between two Ganglions and between Ganglion and Synapse: a user of each server in one encrypted room decrypt
each other's messages, whose room keys travel as Olm-encrypted to-device messages over federation (after a keys
query and a one-time key claim sent to the other server); a device the invited user adds later reaches the
inviting server as an ``m.device_list_update``, its user's clients see it in ``device_lists.changed``, and it gets
the room key too."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nio import (
    AsyncClient,
    JoinResponse,
    RoomCreateResponse,
    RoomInviteResponse,
    RoomPreset,
    ShareGroupSessionResponse,
)

from tests.e2e.nio_clients import (
    Homeserver,
    encrypting_client,
    encrypting_device,
    expect,
    received_decrypted,
    send_text,
    sync_and_keep_keys,
)

ENCRYPTION = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}


@dataclass(frozen=True)
class Side:
    """One server of the conversation: where its clients connect and the server name in its user ids."""

    server: Homeserver
    server_name: str
    ssl_context: ssl.SSLContext | None = None


def _knows(client: AsyncClient, user_id: str, device_id: str | None) -> bool:
    """Whether ``client`` holds the keys of ``user_id``'s ``device_id``."""
    return user_id in client.device_store.users and device_id in client.device_store[user_id]


async def _until(client: AsyncClient, done: Callable[[], bool], what: str, attempts: int = 100) -> None:
    """Sync (with nio's key traffic) until ``done``."""
    for _ in range(attempts):
        await sync_and_keep_keys(client)
        if done():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{client.user_id}: {what} never happened")


async def encrypted_conversation(inviting: Side, invited: Side, store: Path) -> None:
    """Alice (on ``inviting``) invites Bob (on ``invited``) to an encrypted room; each decrypts the other's
    message; then Bob logs in a second device, which Alice's client learns of and shares the room key with."""
    alice = await encrypting_client(inviting.server, "alice", store / "alice", server_name=inviting.server_name,
                                    ssl_context=inviting.ssl_context)
    bob = await encrypting_client(invited.server, "bob", store / "bob", server_name=invited.server_name,
                                  ssl_context=invited.ssl_context)
    bob_later: AsyncClient | None = None
    try:
        for client in (alice, bob):
            await sync_and_keep_keys(client)
        room_id = expect(await alice.room_create(preset=RoomPreset.private_chat, initial_state=[ENCRYPTION]),
                         RoomCreateResponse).room_id
        expect(await alice.room_invite(room_id, bob.user_id), RoomInviteResponse)
        await _until(bob, lambda: room_id in bob.invited_rooms, "the invite")
        expect(await bob.join(room_id), JoinResponse)
        await _until(alice, lambda: room_id in alice.rooms and bob.user_id in alice.rooms[room_id].users,
                     "bob's join")
        await _until(alice, lambda: _knows(alice, bob.user_id, bob.device_id), "bob's device keys")
        await _until(bob, lambda: _knows(bob, alice.user_id, alice.device_id), "alice's device keys")
        assert alice.rooms[room_id].encrypted

        # The room keys go as Olm-encrypted to-device messages to the other server's device.
        await send_text(alice, room_id, "hello bob, across servers")
        await received_decrypted(bob, room_id, "hello bob, across servers", attempts=100, pause=0.2)
        await send_text(bob, room_id, "hello alice, across servers")
        await received_decrypted(alice, room_id, "hello alice, across servers", attempts=100, pause=0.2)

        bob_later = await encrypting_device(invited.server, bob.user_id, store / "bob-later",
                                            ssl_context=invited.ssl_context)
        await sync_and_keep_keys(bob_later)
        later_device = bob_later.device_id
        await _until(alice, lambda: _knows(alice, bob.user_id, later_device),
                     "bob's later device (an m.device_list_update from bob's server)")
        expect(await alice.share_group_session(room_id, ignore_unverified_devices=True), ShareGroupSessionResponse)
        await send_text(alice, room_id, "welcome, later device")
        await received_decrypted(bob_later, room_id, "welcome, later device", attempts=100, pause=0.2)
    finally:
        for client in (alice, bob, bob_later):
            if client is not None:
                await client.close()
