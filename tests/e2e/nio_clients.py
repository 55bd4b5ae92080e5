"""What the matrix-nio end-to-end tests share: a registered client (plain or encrypting) under a fresh name,
the key traffic of a sync loop, and expecting a response type."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any, Protocol

from nio import (
    AsyncClient,
    AsyncClientConfig,
    KeysClaimResponse,
    KeysQueryResponse,
    KeysUploadResponse,
    MegolmEvent,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)

from tests.e2e.servers import SERVER_NAME, RunningServer, fresh_localpart


class Homeserver(Protocol):
    """Where a client reaches a server: a Ganglion (``RunningServer``) or a Synapse peer (``SynapsePeer``)."""

    @property
    def base_url(self) -> str: ...


async def registered_client(server: RunningServer, name: str) -> AsyncClient:
    """A nio client for a new account (password ``pw``) on ``server``, logged in by registering. The localpart is
    ``name`` with a random suffix, so tests sharing a server never collide; the client's user_id names it."""
    user_id = f"@{fresh_localpart(name)}:{SERVER_NAME}"
    client = AsyncClient(server.base_url, user_id)
    response = await client.register(localpart_of(user_id), "pw")
    assert response.user_id == user_id, response
    return client


def localpart_of(user_id: str) -> str:
    return user_id[1:].split(":", 1)[0]


def expect(response: Any, kind: type) -> Any:
    """``response`` if it is a ``kind`` (nio answers errors as other response types), else fail with it."""
    assert isinstance(response, kind), response
    return response


async def encrypting_client(server: Homeserver, name: str, store: Path, server_name: str = SERVER_NAME,
                            ssl_context: ssl.SSLContext | None = None) -> AsyncClient:
    """A nio client with end-to-end encryption (vodozemac) and its crypto store under ``store``, for a new
    account named as registered_client names it (password ``pw``) on ``server_name`` (the server's own).
    ``ssl_context`` trusts the CA of a server that serves its client listener over TLS."""
    return await _encrypting(server, f"@{fresh_localpart(name)}:{server_name}", store, register=True,
                             ssl_context=ssl_context)


async def encrypting_device(server: Homeserver, user_id: str, store: Path,
                            ssl_context: ssl.SSLContext | None = None) -> AsyncClient:
    """Another encrypting device of the existing account ``user_id``, logged in with password ``pw``."""
    return await _encrypting(server, user_id, store, register=False, ssl_context=ssl_context)


async def _encrypting(server: Homeserver, user_id: str, store: Path, *, register: bool,
                      ssl_context: ssl.SSLContext | None) -> AsyncClient:
    store.mkdir(parents=True, exist_ok=True)
    client = AsyncClient(server.base_url, user_id, store_path=str(store), ssl=ssl_context,
                         config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False))
    response = await (client.register(localpart_of(user_id), "pw") if register else client.login("pw"))
    assert getattr(response, "user_id", None) == user_id, response
    assert client.olm is not None, "nio was installed without its e2e extra"
    return client


async def sync_and_keep_keys(client: AsyncClient) -> SyncResponse:
    """One sync, then the key traffic nio's sync loop would do: upload keys the server needs, fetch the device
    lists that changed, and claim keys for devices it has no Olm session with."""
    response = expect(await client.sync(timeout=0, full_state=False), SyncResponse)
    if client.should_upload_keys:
        expect(await client.keys_upload(), KeysUploadResponse)
    if client.should_query_keys:
        expect(await client.keys_query(), KeysQueryResponse)
    if client.should_claim_keys:
        expect(await client.keys_claim(client.get_users_for_key_claiming()), KeysClaimResponse)
    return response


async def send_text(client: AsyncClient, room_id: str, body: str) -> str:
    """Send ``body`` as an ``m.text`` message (encrypted in an encrypted room); answers its event id."""
    response = await client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": body},
                                      ignore_unverified_devices=True)
    return str(expect(response, RoomSendResponse).event_id)


async def received_decrypted(client: AsyncClient, room_id: str, body: str, *, attempts: int,
                             pause: float) -> RoomMessageText:
    """Sync until the message ``body`` arrives decrypted; a message this device cannot decrypt fails at once.
    ``attempts`` and ``pause`` bound the wait (device lists and keys may need a hop or two to arrive)."""
    for _ in range(attempts):
        response = await sync_and_keep_keys(client)
        room = response.rooms.join.get(room_id)
        for event in room.timeline.events if room else []:
            if isinstance(event, RoomMessageText) and event.body == body:
                assert event.decrypted, "an encrypted room's message arrives encrypted"
                return event
            assert not isinstance(event, MegolmEvent), f"{client.device_id} could not decrypt {event.event_id}"
        await asyncio.sleep(pause)
    raise AssertionError(f"{client.user_id}/{client.device_id} never received {body!r}")
