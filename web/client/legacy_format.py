"""What the deprecated sync APIs (``/initialSync``, ``/rooms/{roomId}/initialSync``, ``/events``) share: a reader
over what ``/sync`` reads, and the v1 event format they still answer in.

v1 events are client events plus the fields clients of that era read at the top level: ``user_id`` (the sender)
and ``age``, ``prev_content``, ``replaces_state``, ``redacted_because`` copied from ``unsigned``, as Synapse still
serves them on these endpoints (SyTest's room initialSync finds members by ``user_id``).
"""

from __future__ import annotations

from typing import Any

from protocol.filters import RoomEventFilter
from protocol.sync_filters import RoomFilter, SyncFilter
from web.deps import Deps
from web.sync.rooms import SyncReader
from web.token_cache import Requester

V1_FROM_UNSIGNED = ("age", "redacted_because", "replaces_state", "prev_content", "invite_room_state",
                    "knock_room_state")


def legacy_reader(current: Deps, conn: Any, requester: Requester, limit: int) -> SyncReader:
    sync_filter = SyncFilter(room=RoomFilter(timeline=RoomEventFilter(limit=max(limit, 1))))
    return SyncReader(current, conn, requester.user_id, requester.device_id, sync_filter, current.clock.now_ms())


def v1_events(served: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Client events (as served) in the v1 format, in place."""
    for event in served:
        if "sender" in event:
            event["user_id"] = event["sender"]
        unsigned = event.get("unsigned") or {}
        for key in V1_FROM_UNSIGNED:
            if key in unsigned:
                event[key] = unsigned[key]
    return served
