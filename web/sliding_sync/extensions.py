"""Sliding sync extensions (MSC3884 e2ee, MSC3885 to_device, MSC3959 account_data, MSC3960 receipts, MSC3961
typing), read from the same streams and ranges as ``/sync`` (``web/sync/``).

``account_data``, ``receipts`` and ``typing`` cover the rooms of the lists and subscriptions the extension names
(all of them by default) that the response covers: what changed since the connection's position, and everything
for a room the connection is sending for the first time. ``to_device`` keeps its own position (``since`` and
``next_batch``), as MSC3885 has it; naming one acknowledges every message up to it. ``e2ee`` carries the device's
key counts in every response, and which users' device lists changed since the connection's position.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from protocol.sliding_sync.request import SlidingRequest
from protocol.sync_filters import DEFAULT_FILTER
from protocol.sync_tokens import SyncToken, WriterPositions, parse_sync_token
from web.deps import Deps
from web.sliding_sync.room_list import Membership
from web.sync.device_lists import device_list_changes
from web.sync.ephemeral import RECEIPT_TYPE, TYPING_TYPE, RoomEphemeral
from web.sync.response import (
    ACCOUNT_DATA,
    DEVICE_LISTS,
    EVENTS,
    PUSH_RULES,
    RECEIPTS,
    SIGNED_CURVE25519,
    TO_DEVICE,
    TYPING,
    SyncRequest,
    acknowledge_to_device,
    push_rules_events,
    to_device_batch,
)
from web.sync.rooms import Range, SyncReader


@dataclass(frozen=True)
class ExtensionScope:
    """The rooms each extension covers: the windows of the lists and the subscriptions it names."""

    windows: Mapping[str, list[str]]
    subscriptions: Collection[str]
    fresh: Collection[str]
    """Rooms the connection sends for the first time in this response."""
    memberships: Mapping[str, Membership]


def to_device_since(request: SlidingRequest) -> WriterPositions | None:
    """The ``to_device`` position the client names (``M_INVALID_PARAM`` if it is not one of ours)."""
    extension = request.extension("to_device")
    if extension is None or extension.since is None:
        return None
    return parse_sync_token(extension.since, name="extensions.to_device.since").stream(TO_DEVICE)


def acknowledge(deps: Deps, request: SlidingRequest, user_id: str, device_id: str) -> None:
    """Messages up to the named ``since`` were received: their writer may delete them."""
    since = to_device_since(request)
    if since is not None:
        acknowledge_to_device(deps, SyncRequest(user_id, device_id, SyncToken.of({TO_DEVICE: since}),
                                                DEFAULT_FILTER, False))


def _rooms_for(request: SlidingRequest, name: str, scope: ExtensionScope) -> list[str]:
    extension = request.extension(name)
    if extension is None:
        return []
    rooms = {room_id for list_name, window in scope.windows.items() if extension.covers_list(list_name)
             for room_id in window}
    rooms |= {room_id for room_id in scope.subscriptions if extension.covers_room(room_id)}
    return sorted(room_id for room_id in rooms
                  if room_id in scope.memberships and scope.memberships[room_id].membership == "join")


def build_extensions(reader: SyncReader, request: SlidingRequest, since: SyncToken | None, until: SyncToken,
                     scope: ExtensionScope) -> tuple[dict[str, Any], bool]:
    """The ``extensions`` object, and whether it holds anything new for the client (key counts alone do not
    count: they come in every response)."""
    ranges = {stream: Range(since.stream(stream) if since else None, until.stream(stream))
              for stream in (EVENTS, ACCOUNT_DATA, DEVICE_LISTS, TYPING, RECEIPTS, PUSH_RULES)}
    body: dict[str, Any] = {}
    news = False
    if request.extension("to_device") is not None:
        events, next_batch = to_device_batch(reader.deps, reader.conn, reader.user_id, reader.device_id,
                                             Range(to_device_since(request), until.stream(TO_DEVICE)))
        body["to_device"] = {"next_batch": SyncToken.of({TO_DEVICE: next_batch}).format(), "events": events}
        news = news or bool(events)
    if request.extension("e2ee") is not None:
        body["e2ee"], changed = _e2ee(reader, scope, ranges)
        news = news or changed
    if request.extension("account_data") is not None:
        body["account_data"] = _account_data(reader, _rooms_for(request, "account_data", scope), scope, ranges)
        news = news or bool(body["account_data"]["global"] or body["account_data"]["rooms"])
    typing_rooms = _rooms_for(request, "typing", scope)
    receipt_rooms = _rooms_for(request, "receipts", scope)
    if typing_rooms or receipt_rooms:
        ephemeral = RoomEphemeral(reader, sorted({*typing_rooms, *receipt_rooms}), ranges[TYPING], ranges[RECEIPTS])
        by_room = {room_id: ephemeral.events(room_id, fresh=room_id in scope.fresh)
                   for room_id in sorted({*typing_rooms, *receipt_rooms})}
        for name, kind, rooms in (("typing", TYPING_TYPE, typing_rooms), ("receipts", RECEIPT_TYPE, receipt_rooms)):
            found = {room_id: event for room_id in rooms for event in by_room[room_id] if event["type"] == kind}
            body[name] = {"rooms": found}
            news = news or bool(found)
    for name in ("typing", "receipts"):
        if request.extension(name) is not None:
            body.setdefault(name, {"rooms": {}})
    return body, news


def _e2ee(reader: SyncReader, scope: ExtensionScope, ranges: Mapping[str, Range]) -> tuple[dict[str, Any], bool]:
    joined = {room_id for room_id, member in scope.memberships.items() if member.membership == "join"}
    events = ranges[EVENTS]
    fresh_joins: set[str] = set()
    left: set[str] = set()
    if events.since is not None and not events.unchanged:
        for stored in reader.deps.stores.events.list_membership_changes(reader.conn, reader.user_id, events.since,
                                                                        events.until):
            membership = stored.event.membership
            (fresh_joins if membership == "join" else left if membership in ("leave", "ban") else set()).add(
                stored.room_id)
    device_lists = device_list_changes(reader, events, ranges[DEVICE_LISTS], joined=joined,
                                       fresh_joins=fresh_joins & joined, left_rooms=left - joined)
    counts = reader.deps.stores.e2e_keys.get_key_counts(reader.conn, reader.user_id, reader.device_id)
    return {
        "device_lists": device_lists,
        "device_one_time_keys_count": {SIGNED_CURVE25519: 0, **counts.one_time_keys},
        "device_unused_fallback_key_types": counts.unused_fallback_algorithms,
    }, bool(device_lists["changed"] or device_lists["left"])


def _account_data(reader: SyncReader, rooms: list[str], scope: ExtensionScope,
                  ranges: Mapping[str, Range]) -> dict[str, Any]:
    span = ranges[ACCOUNT_DATA]
    stores, conn = reader.deps.stores, reader.conn
    entries = [] if span.unchanged else stores.account_data.list_account_data(conn, reader.user_id, span.since,
                                                                              span.until)
    global_events = [{"type": entry.type, "content": entry.content} for entry in entries if not entry.room_id]
    global_events += push_rules_events(reader, ranges[PUSH_RULES])
    wanted = set(rooms)
    by_room: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        if entry.room_id in wanted:
            by_room.setdefault(entry.room_id, []).append({"type": entry.type, "content": entry.content})
    fresh = wanted & set(scope.fresh)
    if fresh and span.since is not None:  # rooms new to the connection get all their account data
        for entry in stores.account_data.list_account_data(conn, reader.user_id, None, span.until):
            if entry.room_id in fresh:
                events = by_room.setdefault(entry.room_id, [])
                if all(event["type"] != entry.type for event in events):
                    events.append({"type": entry.type, "content": entry.content})
    return {"global": global_events, "rooms": by_room}
