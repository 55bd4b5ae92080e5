"""Presence, receipts and typing as the deprecated ``/initialSync``, ``/rooms/{roomId}/initialSync`` and
``/events`` show them.

Their shapes are the v1 ones Synapse still serves and SyTest checks: each ``m.presence`` event names its user in
``content.user_id`` as well as in ``sender``, and receipts come as one ``m.receipt`` event per room carrying its
``room_id``, holding every receipt the reader may see (their own private ones only); typing likewise names its room.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection

from protocol.presence import PRESENCE_TYPE, UserPresence, presence_content
from protocol.receipts import Receipt, receipt_content
from protocol.sync_tokens import WriterPositions
from web.deps import Deps

RECEIPT_TYPE = "m.receipt"
TYPING_TYPE = "m.typing"


def presence_event(current: Deps, presence: UserPresence, now_ms: int) -> dict[str, Any]:
    content = presence_content(presence, now_ms, current.config.presence.timers)
    return {"type": PRESENCE_TYPE, "sender": presence.user_id, "content": {**content, "user_id": presence.user_id}}


def visible_presence(current: Deps, conn: Connection, user_id: str, until: WriterPositions,
                     now_ms: int) -> list[dict[str, Any]]:
    """``/initialSync``'s ``presence``: the user's own and that of everyone sharing a room with them who is not
    offline (as an initial ``/sync`` without ``include_offline_users_on_sync``)."""
    if not current.config.presence.enabled:
        return []
    store = current.stores.presence
    found = store.list_visible_changes(conn, user_id, None, until, include_offline=False)
    if all(presence.user_id != user_id for presence in found):
        found.append(store.get_presence(conn, user_id))
    return [presence_event(current, presence, now_ms) for presence in found]


def members_presence(current: Deps, conn: Connection, member_ids: Collection[str],
                     now_ms: int) -> list[dict[str, Any]]:
    """``/rooms/{roomId}/initialSync``'s ``presence``: every joined member's, offline ones included."""
    if not current.config.presence.enabled:
        return []
    return [presence_event(current, found, now_ms) for found in current.stores.presence.list_presence(conn, member_ids)]


def room_receipts(current: Deps, conn: Connection, room_ids: Collection[str], viewer: str,
                  until: WriterPositions, since: WriterPositions | None = None) -> list[dict[str, Any]]:
    """One ``m.receipt`` event per room of ``room_ids`` that has receipts, with every receipt after ``since``
    (all, when None) up to ``until``."""
    by_room: dict[str, list[Receipt]] = {}
    for receipt in current.stores.receipts.list_receipts(conn, room_ids, viewer, since, until):
        by_room.setdefault(receipt.room_id, []).append(receipt)
    return [{"type": RECEIPT_TYPE, "room_id": room_id, "content": receipt_content(receipts)}
            for room_id, receipts in sorted(by_room.items())]


def typing_changes(current: Deps, conn: Connection, room_ids: Collection[str], since: WriterPositions,
                   until: WriterPositions, now_ms: int) -> list[dict[str, Any]]:
    """One ``m.typing`` event, naming its room, per room of ``room_ids`` whose typers changed in the range."""
    store = current.stores.typing
    changed = store.list_changed_rooms(conn, room_ids, since, until)
    typers = store.list_typing(conn, changed, now_ms)
    return [{"type": TYPING_TYPE, "room_id": room_id, "content": {"user_ids": typers.get(room_id, [])}}
            for room_id in sorted(changed)]
