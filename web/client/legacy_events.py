"""The deprecated event stream (Client-Server API, "Syncing" > "Deprecated", and "Peeking"): ``GET /events`` and
``GET /events/{eventId}``.

``/events`` is a view over what ``/sync`` reads: the same tokens, timeline walk, visibility and long-poll
wake-ups. Its chunk holds, after ``from``, the room events of the user's rooms (at most ``limit``), their account
data (room entries, tags among them, name their room), receipts, typing changes and the presence of those sharing
a room with them, in the v1 shapes Synapse serves; with ``room_id``, only that room's events, receipts, typing and
members' presence, which a non-member may read when the room is world-readable (anyone else is refused at once,
not left waiting). Guests must name a room. Calling it counts as syncing: it marks the user online, as Synapse's.

``from`` is a token ``/events`` handed out as ``start``/``end``, ``/initialSync``'s ``end``, ``/sync``'s
``next_batch``, or a room pagination token (``/rooms/{roomId}/initialSync``'s ``messages.end``): that names only
an events position, so the other streams start from now.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint

from persistence.stores.account_data import GLOBAL, AccountDataEntry
from persistence.stores.events import StoredEvent
from protocol.errors import Forbidden, GuestAccessForbidden, InvalidParam, NotFound
from protocol.sync_tokens import MAX_TOKEN_LENGTH, SyncToken, WriterPositions, parse_sync_token
from protocol.tokens import parse_token
from protocol.visibility import WORLD_READABLE
from web.auth import authenticate
from web.client.legacy_ephemeral import presence_event, room_receipts, typing_changes
from web.client.legacy_format import legacy_reader, v1_events
from web.client.paging import query_integer
from web.client.room_access import current_history_visibility, require_room, visible_events
from web.deps import Deps, deps
from web.requests import query_text
from web.routing import client_route
from web.sync.presence import record_sync
from web.sync.response import ACCOUNT_DATA, EVENTS, PRESENCE, RECEIPTS, TYPING, current_token, listen_keys
from web.token_cache import Requester

MAX_EVENTS = 100
DEFAULT_TIMEOUT_MS = 30_000
MAX_TIMEOUT_MS = 120_000


def _since(current: Deps, text: str | None) -> SyncToken:
    if text is None:
        with current.database.read() as conn:
            return current_token(current, conn)
    try:
        return parse_sync_token(text, name="from")
    except InvalidParam:
        position = parse_token(text, name="from")  # a room pagination token, or still 400
    with current.database.read() as conn:
        now = current_token(current, conn)
    return SyncToken.of({**dict(now.streams), EVENTS: WriterPositions(position.stream)})


def _account_data_events(entries: list[AccountDataEntry]) -> list[dict[str, Any]]:
    return [{"type": entry.type, "content": entry.content,
             **({"room_id": entry.room_id} if entry.room_id != GLOBAL else {})} for entry in entries]


def _presence_events(current: Deps, conn: Any, user_id: str, room_id: str | None, since: SyncToken,
                     until: SyncToken, now_ms: int) -> list[dict[str, Any]]:
    if not current.config.presence.enabled:
        return []
    store = current.stores.presence
    span = (since.stream(PRESENCE), until.stream(PRESENCE))
    if room_id is None:
        changes = store.list_visible_changes(conn, user_id, *span)
    else:
        members = set(current.stores.state.list_members(conn, room_id, "join"))
        changes = store.list_changes(conn, members, *span)
    return [presence_event(current, change, now_ms) for change in changes]


def _events_since(current: Deps, requester: Requester, since: SyncToken, room_id: str | None,
                  limit: int) -> tuple[list[dict[str, Any]], str]:
    user_id = requester.user_id
    with current.database.read() as conn:
        until = current_token(current, conn)
        reader = legacy_reader(current, conn, requester, MAX_EVENTS)
        rooms = [room_id] if room_id is not None else current.stores.state.list_rooms_with_membership(
            conn, user_id, "join")
        found = current.stores.events.list_events_in_rooms(conn, rooms, since.stream(EVENTS), until.stream(EVENTS),
                                                           limit) if limit else []
        by_room: dict[str, list[StoredEvent]] = {}
        for stored in found:
            by_room.setdefault(stored.room_id, []).append(stored)
        shown = {stored.event_id for room, events in by_room.items()
                 for stored in visible_events(current, conn, room, user_id, events)}
        chunk = v1_events(reader.serve([stored for stored in found if stored.event_id in shown], with_txn_ids=True))
        if room_id is None:
            chunk += _account_data_events(current.stores.account_data.list_account_data(
                conn, user_id, since.stream(ACCOUNT_DATA), until.stream(ACCOUNT_DATA)))
        if not since.stream(RECEIPTS).covers(until.stream(RECEIPTS)):
            chunk += room_receipts(current, conn, rooms, user_id, until.stream(RECEIPTS), since.stream(RECEIPTS))
        if not since.stream(TYPING).covers(until.stream(TYPING)):
            chunk += typing_changes(current, conn, rooms, since.stream(TYPING), until.stream(TYPING), reader.now_ms)
        chunk += _presence_events(current, conn, user_id, room_id, since, until, reader.now_ms)
    if found and len(found) == limit:  # more may wait: resume after the last one returned
        return chunk, _after(until, found[-1])
    return chunk, until.format()


def _after(until: SyncToken, last: StoredEvent) -> str:
    """``until`` with its events positions cut back to ``last``: everything up to it was returned."""
    events = until.stream(EVENTS)
    capped = {writer: min(position, last.stream_ordering) for writer, position in events.writers().items()}
    floor = min(events.floor, last.stream_ordering)
    positions = WriterPositions(floor, tuple(sorted((w, p) for w, p in capped.items() if p > floor)))
    return SyncToken.of({**dict(until.streams), EVENTS: positions}).format()


def _check_peekable(current: Deps, user_id: str, room_id: str) -> None:
    """A member's room, or one whose history is ``world_readable`` (spec: "Peeking")."""
    with current.database.read() as conn:
        require_room(current, conn, room_id)
        found = current.stores.state.get_membership(conn, room_id, user_id)
        if found is not None and found[0] == "join":
            return
        if current_history_visibility(current, conn, room_id) != WORLD_READABLE:
            raise Forbidden(f"User {user_id} not in room {room_id}, and the room is not world-readable")


def get_events() -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    from_text = query_text("from", max_length=MAX_TOKEN_LENGTH)
    room_id = query_text("room_id", max_length=255)
    timeout, limit = query_integer("timeout"), query_integer("limit")
    if timeout is not None and timeout < 0:
        raise InvalidParam("Query parameter 'timeout' must not be negative")
    if limit is not None and limit < 0:
        raise InvalidParam("Query parameter 'limit' must not be negative")
    if room_id is None and requester.is_guest:
        raise GuestAccessForbidden("Guests must name a room: /events?room_id=")
    since = _since(current, from_text or None)  # an empty ``from`` is none, as Synapse reads it (SyTest sends one)
    if room_id is not None:
        _check_peekable(current, requester.user_id, room_id)
    wait_ms = min(timeout if timeout is not None else DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS)
    record_sync(current, requester.user_id, None, wait_ms)
    deadline = time.monotonic() + wait_ms / 1000
    keys = listen_keys(current, requester.user_id) + ([room_id] if room_id is not None else [])
    with current.notifier.listening(keys) as waiter:
        while True:
            chunk, end = _events_since(current, requester, since, room_id,
                                       MAX_EVENTS if limit is None else min(limit, MAX_EVENTS))
            remaining = deadline - time.monotonic()
            if chunk or remaining <= 0:
                return {"chunk": chunk, "start": since.format(), "end": end}
            waiter.wait(remaining)


def get_one_event(event_id: str) -> dict[str, Any]:
    """``GET /events/{eventId}``: one event the requester may see, wherever it is."""
    current = deps()
    requester = authenticate(current, allow_guest=True)
    with current.database.read() as conn:
        stored = current.stores.events.get_event(conn, event_id)
        if stored is None or stored.rejected_reason is not None:
            raise NotFound("Event not found")
        if not visible_events(current, conn, stored.room_id, requester.user_id, [stored]):
            raise NotFound("Event not found")
        return v1_events(legacy_reader(current, conn, requester, 1).serve([stored]))[0]


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/events", methods=["GET"])(get_events)
    client_route(blueprint, "/events/<event_id:event_id>", methods=["GET"])(get_one_event)
