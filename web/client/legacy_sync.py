"""The deprecated sync APIs some clients still use (Client-Server API, "Syncing" > "Deprecated"): ``GET /events``,
``GET /initialSync``, ``GET /rooms/{roomId}/initialSync`` and ``GET /events/{eventId}``.

They are views over what ``/sync`` reads: the same tokens, the same timeline walk and visibility, the same
long-poll wake-ups; only the response shapes differ.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint

from persistence.stores.account_data import GLOBAL
from persistence.stores.events import StoredEvent
from protocol.errors import InvalidParam, NotFound
from protocol.filters import RoomEventFilter
from protocol.sync_filters import RoomFilter, SyncFilter
from protocol.sync_tokens import MAX_TOKEN_LENGTH, SyncToken, WriterPositions, parse_sync_token
from protocol.tokens import RoomPosition
from web.auth import authenticate
from web.client.paging import query_integer
from web.client.room_access import readable_state_ids, visible_events
from web.deps import Deps, deps
from web.requests import query_text
from web.routing import client_route
from web.sync.response import ACCOUNT_DATA, EVENTS, current_token, listen_keys
from web.sync.rooms import SyncReader, read_timeline, state_at
from web.token_cache import Requester

DEFAULT_LIMIT = 10
MAX_EVENTS = 100
MAX_TIMEOUT_MS = 120_000


def _reader(current: Deps, conn: Any, requester: Requester, limit: int) -> SyncReader:
    sync_filter = SyncFilter(room=RoomFilter(timeline=RoomEventFilter(limit=max(limit, 1))))
    return SyncReader(current, conn, requester.user_id, requester.device_id, sync_filter, current.clock.now_ms())


def _limit() -> int:
    limit = query_integer("limit")
    if limit is not None and limit < 0:
        raise InvalidParam("Query parameter 'limit' must not be negative")
    return DEFAULT_LIMIT if limit is None else min(limit, MAX_EVENTS)


def _room_info(reader: SyncReader, room_id: str, membership: str, member: StoredEvent | None,
               until: Any, limit: int) -> dict[str, Any]:
    """One room as ``initialSync`` shows it: recent messages, state, visibility, the user's room account data."""
    stores = reader.deps.stores
    info: dict[str, Any] = {"room_id": room_id, "membership": membership}
    if membership == "invite" and member is not None:
        info["invite"] = reader.serve([member])[0]
        return info
    departed = membership in ("leave", "ban") and member is not None
    at_most = member.stream_ordering if departed and member is not None else None
    timeline = read_timeline(reader, room_id, None, until, at_most=at_most)
    chunk = timeline.events if limit else []
    last = chunk[-1] if chunk else member
    end = RoomPosition.after(last.event.depth, last.stream_ordering) if last else RoomPosition(0, 0)
    messages: dict[str, Any] = {"chunk": reader.serve(chunk, with_txn_ids=True), "end": end.format()}
    if chunk:
        messages["start"] = RoomPosition.before(chunk[0].event.depth, chunk[0].stream_ordering).format()
    if departed and member is not None:  # the state as they left it
        group = stores.state.get_event_state_group(reader.conn, member.event_id)
        state_ids = stores.state.get_state(reader.conn, group) if group is not None else {}
    else:
        state_ids = state_at(reader, room_id, until)
    state = sorted(stores.events.get_events(reader.conn, state_ids.values()).values(),
                   key=lambda stored: stored.stream_ordering)
    info.update(messages=messages, state=reader.serve(state),
                visibility="public" if stores.directory.is_published(reader.conn, room_id) else "private")
    return info


def initial_sync() -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    limit = _limit()
    archived = query_text("archived", max_length=8) == "true"
    with current.database.read() as conn:
        until = current_token(current, conn)
        reader = _reader(current, conn, requester, limit)
        memberships = current.stores.state.list_user_memberships(conn, requester.user_id)
        members = current.stores.events.get_events(conn, [event_id for _, event_id in memberships.values()])
        entries = current.stores.account_data.list_account_data(conn, requester.user_id, None,
                                                                until.stream(ACCOUNT_DATA))
        rooms = []
        for room_id, (membership, event_id) in sorted(memberships.items()):
            if membership is None or (membership in ("leave", "ban") and not archived) or membership == "knock":
                continue
            info = _room_info(reader, room_id, membership, members.get(event_id), until.stream(EVENTS), limit)
            info["account_data"] = [{"type": entry.type, "content": entry.content} for entry in entries
                                    if entry.room_id == room_id]
            rooms.append(info)
    return {"end": until.format(), "presence": [], "rooms": rooms,
            "account_data": [{"type": entry.type, "content": entry.content} for entry in entries
                             if entry.room_id == GLOBAL]}


def room_initial_sync(room_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    with current.database.read() as conn:
        readable_state_ids(current, conn, room_id, requester.user_id)  # 403 / 404 as /state answers
        until = current_token(current, conn)
        reader = _reader(current, conn, requester, DEFAULT_LIMIT)
        found = current.stores.state.get_membership(conn, room_id, requester.user_id)
        member = current.stores.events.get_event(conn, found[1]) if found else None
        membership = (found[0] if found else None) or "leave"
        info = _room_info(reader, room_id, membership, member, until.stream(EVENTS), DEFAULT_LIMIT)
        entries = current.stores.account_data.list_account_data(conn, requester.user_id, None,
                                                                until.stream(ACCOUNT_DATA))
    info["account_data"] = [{"type": entry.type, "content": entry.content} for entry in entries
                            if entry.room_id == room_id]
    info["presence"] = []
    return info


def _events_since(current: Deps, requester: Requester, since: SyncToken) -> tuple[list[dict[str, Any]], str]:
    with current.database.read() as conn:
        until = current_token(current, conn)
        reader = _reader(current, conn, requester, MAX_EVENTS)
        joined = current.stores.state.list_rooms_with_membership(conn, requester.user_id, "join")
        found = current.stores.events.list_events_in_rooms(conn, joined, since.stream(EVENTS), until.stream(EVENTS),
                                                           MAX_EVENTS)
        by_room: dict[str, list[StoredEvent]] = {}
        for stored in found:
            by_room.setdefault(stored.room_id, []).append(stored)
        shown = {stored.event_id for room_id, events in by_room.items()
                 for stored in visible_events(current, conn, room_id, requester.user_id, events)}
        chunk = reader.serve([stored for stored in found if stored.event_id in shown], with_txn_ids=True)
    if len(found) == MAX_EVENTS:  # more wait: resume after the last one returned
        return chunk, _after(until, found[-1])
    return chunk, until.format()


def _after(until: SyncToken, last: StoredEvent) -> str:
    """``until`` with its events positions cut back to ``last``: everything up to it was returned."""
    events = until.stream(EVENTS)
    capped = {writer: min(position, last.stream_ordering) for writer, position in events.writers().items()}
    floor = min(events.floor, last.stream_ordering)
    positions = WriterPositions(floor, tuple(sorted((w, p) for w, p in capped.items() if p > floor)))
    return SyncToken.of({**dict(until.streams), EVENTS: positions}).format()


def get_events() -> dict[str, Any]:
    """``GET /events``: room events after ``from`` (now, when absent), waiting up to ``timeout`` for some."""
    current = deps()
    requester = authenticate(current, allow_guest=True)
    from_text = query_text("from", max_length=MAX_TOKEN_LENGTH)
    timeout = query_integer("timeout")
    if timeout is not None and timeout < 0:
        raise InvalidParam("Query parameter 'timeout' must not be negative")
    if from_text is not None:
        since = parse_sync_token(from_text, name="from")
    else:
        with current.database.read() as conn:
            since = current_token(current, conn)
    deadline = time.monotonic() + min(timeout if timeout is not None else 30_000, MAX_TIMEOUT_MS) / 1000
    with current.notifier.listening(listen_keys(current, requester.user_id)) as waiter:
        while True:
            chunk, end = _events_since(current, requester, since)
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
        return _reader(current, conn, requester, 1).serve([stored])[0]


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/events", methods=["GET"])(get_events)
    client_route(blueprint, "/events/<event_id>", methods=["GET"])(get_one_event)
    client_route(blueprint, "/initialSync", methods=["GET"])(initial_sync)
    client_route(blueprint, "/rooms/<room_id>/initialSync", methods=["GET"])(room_initial_sync)
