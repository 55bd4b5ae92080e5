"""The ``ephemeral`` part of each joined room in ``/sync``: ``m.typing`` (Client-Server API, "Typing
Notifications") and ``m.receipt`` ("Receipts").

An incremental sync sends a room's typers whenever its set of typers changed in the typing range: the whole
current set, which clients use to replace what they knew (possibly empty: everyone stopped). Receipts are sent
as deltas, one ``m.receipt`` per room holding those written in the receipts range; private ones only to their
owner. A room the client has not seen yet (initial sync, a new join) gets every receipt held and, if anyone
ever typed there, its current typers: an empty list once they stopped, as Synapse sends it. A client that
starts again from an initial sync (SyTest's "Typing can be explicitly stopped" does, right after the stop)
thereby learns that the typers it may still show from before have stopped; a room nobody typed in gets no
``m.typing``. Events pass the room filter's ``ephemeral`` part; they have no sender, so only their type and room
can be filtered on.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from protocol.receipts import Receipt, receipt_content
from web.sync.rooms import Range, SyncReader

TYPING_TYPE = "m.typing"
RECEIPT_TYPE = "m.receipt"


def _typing(reader: SyncReader, room_ids: Collection[str], span: Range) -> dict[str, dict[str, Any]]:
    if span.unchanged:
        return {}
    stores, conn = reader.deps.stores, reader.conn
    changed = stores.typing.list_changed_rooms(conn, room_ids, span.since, span.until)
    typers = stores.typing.list_typing(conn, changed, reader.now_ms)
    return {room_id: {"type": TYPING_TYPE, "content": {"user_ids": typers.get(room_id, [])}}
            for room_id in changed}


def _receipts(reader: SyncReader, room_ids: Collection[str], span: Range) -> dict[str, dict[str, Any]]:
    if span.unchanged:
        return {}
    found = reader.deps.stores.receipts.list_receipts(reader.conn, room_ids, reader.user_id, span.since,
                                                      span.until)
    by_room: dict[str, list[Receipt]] = {}
    for receipt in found:
        by_room.setdefault(receipt.room_id, []).append(receipt)
    return {room_id: {"type": RECEIPT_TYPE, "content": receipt_content(receipts)}
            for room_id, receipts in by_room.items()}


def _read(reader: SyncReader, room_ids: Collection[str], typing: Range,
          receipts: Range) -> dict[str, list[dict[str, Any]]]:
    """Ephemeral events by room, through the filter, for those of ``room_ids`` that have any."""
    event_filter = reader.filter.room.ephemeral
    by_room: dict[str, list[dict[str, Any]]] = {}
    for part in (_typing(reader, room_ids, typing), _receipts(reader, room_ids, receipts)):
        for room_id, event in sorted(part.items()):
            by_room.setdefault(room_id, []).append(event)
    kept: dict[str, list[dict[str, Any]]] = {}
    for room_id, events in by_room.items():
        chosen = [event for event in events if event_filter.matches(event["type"], "", event["content"], room_id)]
        chosen = event_filter.latest(chosen)
        if chosen:
            kept[room_id] = chosen
    return kept


class RoomEphemeral:
    """The ephemeral events of one sync's joined rooms: read once for every room changed in the ranges, and once
    more, from the start, for each room the client is seeing for the first time within an incremental sync."""

    def __init__(self, reader: SyncReader, joined: Collection[str], typing: Range, receipts: Range) -> None:
        self._reader = reader
        self._typing = typing
        self._receipts = receipts
        self._changed = _read(reader, joined, typing, receipts)

    def rooms(self) -> set[str]:
        """Rooms with ephemeral events in the ranges (they belong in ``rooms.join`` even with nothing else)."""
        return set(self._changed)

    def events(self, room_id: str, *, fresh: bool) -> list[dict[str, Any]]:
        if fresh and self._typing.since is not None:
            return _read(self._reader, [room_id], Range(None, self._typing.until),
                         Range(None, self._receipts.until)).get(room_id, [])
        return self._changed.get(room_id, [])
