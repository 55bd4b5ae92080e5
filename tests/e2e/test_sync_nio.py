"""matrix-nio's sync loop against every shape (servers.E2E_SHAPES): invites, joins, messages, names and leaves
arrive through /sync, long-polls wake for new messages, typing and read receipts reach the other member (and
reading clears the unread count), and to-device messages reach the addressed device once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from nio import (
    AsyncClient,
    InviteMemberEvent,
    JoinResponse,
    ReceiptEvent,
    RoomCreateResponse,
    RoomMemberEvent,
    RoomMessageText,
    RoomPreset,
    RoomReadMarkersResponse,
    RoomSendResponse,
    RoomTypingResponse,
    SyncResponse,
    ToDeviceMessage,
    TypingNoticeEvent,
    UnknownToDeviceEvent,
)

from tests.e2e.nio_clients import expect, registered_client
from tests.e2e.servers import E2E_SHAPES, RunningServer, serving

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=E2E_SHAPES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with serving(request, tmp_path_factory, "sync") as running:
        yield running


async def _sync(client: AsyncClient, timeout: int = 0) -> SyncResponse:
    return expect(await client.sync(timeout=timeout, full_state=False), SyncResponse)


def test_a_sync_loop_sees_invites_joins_messages_and_leaves(server: RunningServer) -> None:
    async def conversation() -> None:
        alice, bob = await registered_client(server, "alice"), await registered_client(server, "bob")
        try:
            await _sync(alice)
            await _sync(bob)
            room_id = expect(await alice.room_create(name="Sync room", preset=RoomPreset.private_chat,
                                                  invite=[bob.user_id]), RoomCreateResponse).room_id
            invited = await _sync(bob)
            assert room_id in invited.rooms.invite
            assert any(isinstance(event, InviteMemberEvent) and event.membership == "invite"
                       for event in invited.rooms.invite[room_id].invite_state)
            assert bob.invited_rooms[room_id].name == "Sync room"
            expect(await bob.join(room_id), JoinResponse)
            joined = await _sync(bob)
            assert room_id in joined.rooms.join and room_id not in bob.invited_rooms
            assert bob.rooms[room_id].name == "Sync room"
            assert set(bob.rooms[room_id].users) == {alice.user_id, bob.user_id}
            for index in range(3):
                expect(await alice.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": f"hi {index}"}),
                    RoomSendResponse)
            received = await _sync(bob)
            bodies = [event.body for event in received.rooms.join[room_id].timeline.events
                      if isinstance(event, RoomMessageText)]
            assert bodies == ["hi 0", "hi 1", "hi 2"]
            await _sync(alice)
            await bob.room_leave(room_id)
            left = await _sync(alice)
            leaves = [event for event in left.rooms.join[room_id].timeline.events
                      if isinstance(event, RoomMemberEvent) and event.membership == "leave"]
            assert [event.state_key for event in leaves] == [bob.user_id]
            assert set(alice.rooms[room_id].users) == {alice.user_id}
            bob_after = await _sync(bob)
            assert room_id in bob_after.rooms.leave
        finally:
            await alice.close()
            await bob.close()

    asyncio.run(conversation())


def test_a_long_poll_wakes_for_a_message_within_a_moment(server: RunningServer) -> None:
    async def conversation() -> float:
        carol, dave = await registered_client(server, "carol"), await registered_client(server, "dave")
        try:
            room_id = expect(await carol.room_create(preset=RoomPreset.public_chat), RoomCreateResponse).room_id
            expect(await dave.join(room_id), JoinResponse)
            await _sync(dave)
            waiting = asyncio.ensure_future(_sync(dave, timeout=20_000))
            await asyncio.sleep(0.5)
            assert not waiting.done(), "nothing new: the sync waits"
            sent_at = time.monotonic()
            expect(await carol.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": "wake"}),
                RoomSendResponse)
            woken = await asyncio.wait_for(waiting, timeout=15)
            latency = time.monotonic() - sent_at
            assert [event.body for event in woken.rooms.join[room_id].timeline.events
                    if isinstance(event, RoomMessageText)] == ["wake"]
            return latency
        finally:
            await carol.close()
            await dave.close()

    assert asyncio.run(conversation()) < 5.0


def test_to_device_messages_reach_the_addressed_device(server: RunningServer) -> None:
    async def conversation() -> None:
        erin, frank = await registered_client(server, "erin"), await registered_client(server, "frank")
        try:
            await _sync(frank)
            message = ToDeviceMessage("org.example.ping", frank.user_id, frank.device_id, {"n": 1})
            await erin.to_device(message, tx_id="ping-1")
            await erin.to_device(message, tx_id="ping-1")  # a retry: delivered once
            received = await _sync(frank)
            pings = [event for event in received.to_device_events if isinstance(event, UnknownToDeviceEvent)]
            assert [(event.sender, event.source["content"]) for event in pings] == [(erin.user_id, {"n": 1})]
            assert not (await _sync(frank)).to_device_events
        finally:
            await erin.close()
            await frank.close()

    asyncio.run(conversation())


def test_typing_and_read_receipts_reach_the_other_member(server: RunningServer) -> None:
    async def conversation() -> None:
        gina, hank = await registered_client(server, "gina"), await registered_client(server, "hank")
        try:
            room_id = expect(await gina.room_create(preset=RoomPreset.public_chat), RoomCreateResponse).room_id
            expect(await hank.join(room_id), JoinResponse)
            await _sync(gina)
            await _sync(hank)
            expect(await gina.room_typing(room_id, True, timeout=30_000), RoomTypingResponse)
            typing = await _sync(hank)
            notices = [event for event in typing.rooms.join[room_id].ephemeral
                       if isinstance(event, TypingNoticeEvent)]
            assert notices and notices[-1].users == [gina.user_id]
            sent = expect(await hank.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": "read me"}),
                       RoomSendResponse).event_id
            await _sync(gina)
            assert gina.rooms[room_id].unread_notifications >= 1
            expect(await gina.room_read_markers(room_id, sent, read_event=sent), RoomReadMarkersResponse)
            read = await _sync(hank)
            receipts = [receipt for event in read.rooms.join[room_id].ephemeral if isinstance(event, ReceiptEvent)
                        for receipt in event.receipts]
            assert any(receipt.event_id == sent and receipt.user_id == gina.user_id
                       and receipt.receipt_type == "m.read" for receipt in receipts)
            await _sync(gina)
            assert gina.rooms[room_id].unread_notifications == 0, "reading clears the count"
            expect(await gina.room_typing(room_id, False), RoomTypingResponse)
            stopped = await _sync(hank)
            assert [event.users for event in stopped.rooms.join[room_id].ephemeral
                    if isinstance(event, TypingNoticeEvent)] == [[]]
        finally:
            await gina.close()
            await hank.close()

    asyncio.run(conversation())
