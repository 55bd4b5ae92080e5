"""Ephemeral events for application services that asked for them (``receive_ephemeral``, MSC2409): typing and
read receipts of the rooms an appservice is interested in, presence of the users sharing such a room with its
users, and (MSC4203) to-device messages for the users of its exclusive user namespaces, read from the typing,
receipts, presence and to_device streams between the appservice's positions and the writers' committed ones.

A room is interesting to an appservice as for events (``protocol.appservices``): in its rooms namespace, with an
alias in its alias namespace, or with a joined member in its user namespace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from persistence.stores import Stores
from persistence.stores.appservices import StreamPositions
from protocol.appservices import USERS, AppService
from protocol.presence import PRESENCE_TYPE, presence_content
from protocol.receipts import Receipt, receipt_content
from protocol.sync_tokens import WriterPositions

TYPING_STREAM = "typing"
RECEIPTS_STREAM = "receipts"
PRESENCE_STREAM = "presence"
TO_DEVICE_STREAM = "to_device"
EPHEMERAL_STREAMS = (TYPING_STREAM, RECEIPTS_STREAM, PRESENCE_STREAM, TO_DEVICE_STREAM)
BATCH = 500
"""Receipts or presence changes read per step."""

Clamp = Callable[[WriterPositions, WriterPositions, int], WriterPositions]


class RoomInterest:
    """Which rooms an appservice is interested in, looked up once per room for one transaction."""

    def __init__(self, stores: Stores, conn: Connection, service: AppService) -> None:
        self._stores, self._conn, self._service = stores, conn, service
        self._known: dict[str, bool] = {}

    def __call__(self, room_id: str) -> bool:
        if room_id not in self._known:
            service = self._service
            aliases = self._stores.aliases.list_aliases(self._conn, room_id)
            members = self._stores.state.list_members(self._conn, room_id, "join")
            self._known[room_id] = (service.is_interested_in_room(room_id)
                                    or any(service.is_interested_in_alias(alias) for alias in aliases)
                                    or any(service.is_interested_in_user(member) for member in members))
        return self._known[room_id]


def ephemeral_events(stores: Stores, conn: Connection, service: AppService, since: StreamPositions,
                     until: StreamPositions, now_ms: int, clamp: Clamp) -> tuple[list[dict[str, Any]],
                                                                                 StreamPositions]:
    """The appservice's ephemeral events between ``since`` and ``until``, and how far they reach."""
    interested = RoomInterest(stores, conn, service)
    found: list[dict[str, Any]] = []
    reached: StreamPositions = {}

    rooms = stores.typing.list_rooms_changed_between(conn, since[TYPING_STREAM], until[TYPING_STREAM])
    rooms = [room_id for room_id in rooms if interested(room_id)]
    typers = stores.typing.list_typing(conn, rooms, now_ms)
    found.extend({"type": "m.typing", "room_id": room_id, "content": {"user_ids": typers.get(room_id, [])}}
                 for room_id in rooms)
    reached[TYPING_STREAM] = until[TYPING_STREAM]

    receipts = stores.receipts.list_receipts_between(conn, since[RECEIPTS_STREAM], until[RECEIPTS_STREAM], BATCH)
    by_room: dict[str, list[Receipt]] = {}
    for _, receipt in receipts:
        if interested(receipt.room_id):
            by_room.setdefault(receipt.room_id, []).append(receipt)
    found.extend({"type": "m.receipt", "room_id": room_id, "content": receipt_content(room_receipts)}
                 for room_id, room_receipts in by_room.items())
    reached[RECEIPTS_STREAM] = until[RECEIPTS_STREAM] if len(receipts) < BATCH else \
        clamp(since[RECEIPTS_STREAM], until[RECEIPTS_STREAM], receipts[-1][0])

    changes = stores.presence.list_changes_between(conn, since[PRESENCE_STREAM], until[PRESENCE_STREAM], BATCH)
    for _, state in changes:
        rooms_of_user = stores.state.list_rooms_with_membership(conn, state.user_id, "join")
        if service.is_interested_in_user(state.user_id) or any(interested(room) for room in rooms_of_user):
            content = presence_content(state, now_ms)
            found.append({"type": PRESENCE_TYPE, "sender": state.user_id,
                          "content": {**content, "user_id": state.user_id}})
    reached[PRESENCE_STREAM] = until[PRESENCE_STREAM] if len(changes) < BATCH else \
        clamp(since[PRESENCE_STREAM], until[PRESENCE_STREAM], changes[-1][0])
    return found, reached


def to_device_messages(stores: Stores, conn: Connection, service: AppService, since: StreamPositions,
                       until: StreamPositions, clamp: Clamp) -> tuple[list[dict[str, Any]], WriterPositions]:
    """MSC4203: to-device messages for the devices of the appservice's exclusive users (its puppets, whom no
    client syncs for), and how far they reach."""
    messages = stores.device_inbox.list_messages_between(conn, since[TO_DEVICE_STREAM], until[TO_DEVICE_STREAM],
                                                         BATCH)
    found = [{"type": item.type, "sender": item.sender, "content": item.content, "to_user_id": user_id,
              "to_device_id": device_id}
             for user_id, device_id, item in messages if service.claims_exclusively(USERS, user_id)]
    reached = until[TO_DEVICE_STREAM] if len(messages) < BATCH else \
        clamp(since[TO_DEVICE_STREAM], until[TO_DEVICE_STREAM], messages[-1][2].stream_id)
    return found, reached
