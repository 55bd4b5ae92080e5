"""Paginating a room's history for one reader (Client-Server API, "Pagination"): query parameters, and the walk.

The walk reads the store in batches, keeps what the filter and ``visible_events`` let through, and stops at
``limit`` kept items or the end; its position is the gap after the last item *read*, so the next page resumes
past events the reader was not shown instead of reading them again. A page cut short by the batch budget still
gives a position: an empty chunk with an ``end`` is allowed by the spec ("Clients should continue to paginate
until no ``end`` property is returned").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Connection

from persistence.stores.events import StoredEvent
from protocol.errors import InvalidParam, NotJson
from protocol.filters import EVERYTHING, RoomEventFilter
from protocol.sync_tokens import EVENTS_STREAM, MAX_TOKEN_LENGTH, WriterPositions, parse_sync_token
from protocol.sync_tokens import PREFIX as SYNC_TOKEN_PREFIX
from protocol.tokens import RoomPosition, StreamPosition, parse_token
from web.client.room_access import readable_state_group, visible_events
from web.deps import Deps
from web.requests import query_text

MAX_LIMIT = 1000
"""The most events one page returns, whatever the client asks for (the spec asks servers to cap it)."""
MAX_BATCHES = 8
"""Store reads one page may make before it answers with what it has (a filter that matches nothing is bounded)."""
MAX_FILTER_LENGTH = 8192

T = TypeVar("T")
RoomToken = RoomPosition | StreamPosition | WriterPositions
"""What a room read's token parameter names: a topological or stream position, or a ``/sync`` token's events
positions (one per writer)."""


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    position: RoomPosition | None
    """The gap after the last item read; ``None`` only when nothing was read from an open start."""
    exhausted: bool
    """Nothing more lies in this direction (so no ``end`` / ``next_batch`` token)."""


def walk(fetch: Callable[[RoomPosition | None, int], Sequence[T]], keep: Callable[[list[T]], list[T]],
         key: Callable[[T], str], gap: Callable[[T], RoomPosition], *, from_: RoomPosition | None,
         limit: int) -> Page[T]:
    """Up to ``limit`` kept items, read from ``from_`` on in the order ``fetch`` yields them.

    ``fetch(position, n)`` reads the next ``n`` items after ``position``; ``keep`` picks (and may rewrite) those
    the reader gets; ``gap`` is the position just past an item in the walking direction.
    """
    collected: list[T] = []
    position = from_
    if limit <= 0:
        return Page(collected, position, False)
    size = limit + 1  # one more than needed tells whether anything lies beyond a full page
    for _ in range(MAX_BATCHES):
        batch = list(fetch(position, size))
        kept = {key(item): item for item in keep(batch)}
        for index, item in enumerate(batch):
            position = gap(item)
            if key(item) in kept:
                collected.append(kept[key(item)])
                if len(collected) >= limit:
                    more = len(batch) == size or any(key(rest) in kept for rest in batch[index + 1:])
                    return Page(collected, position, not more)
        if len(batch) < size:
            return Page(collected, position, True)
        size = min(size * 2, MAX_LIMIT)
    return Page(collected, position, False)


def gap_after(stored: StoredEvent, backwards: bool) -> RoomPosition:
    """The position just past ``stored`` when walking in the given direction."""
    depth, stream = stored.event.depth, stored.stream_ordering
    return RoomPosition.before(depth, stream) if backwards else RoomPosition.after(depth, stream)


def walk_timeline(deps: Deps, conn: Connection, room_id: str, user_id: str, *, from_: RoomPosition | None,
                  to: RoomPosition | None, backwards: bool, limit: int,
                  event_filter: RoomEventFilter = EVERYTHING) -> Page[StoredEvent]:
    """A page of the room's timeline as ``user_id`` may see it, through ``event_filter``."""

    def fetch(position: RoomPosition | None, size: int) -> list[StoredEvent]:
        return deps.stores.events.list_room_timeline(conn, room_id, from_=position, to=to, limit=size,
                                                     backwards=backwards)

    def keep(batch: list[StoredEvent]) -> list[StoredEvent]:
        return visible_events(deps, conn, room_id, user_id, [
            stored for stored in batch
            if event_filter.matches(stored.event.type, stored.event.sender, stored.event.content)])

    return walk(fetch, keep, lambda stored: stored.event_id, lambda stored: gap_after(stored, backwards),
                from_=from_, limit=limit)


def reader_horizon(deps: Deps, conn: Connection, room_id: str, user_id: str) -> RoomPosition | None:
    """Gate a history read (403 or 404 as ``readable_state_group`` decides) and answer how far the reader may
    page: to their leave for a departed member, so pages past it are not read only to be hidden; else open."""
    if readable_state_group(deps, conn, room_id, user_id) is None:
        return None
    found = deps.stores.state.get_membership(conn, room_id, user_id)
    leave = deps.stores.events.get_event(conn, found[1]) if found is not None else None
    return RoomPosition.after(leave.event.depth, leave.stream_ordering) if leave is not None else None


# --- query parameters ------------------------------------------------------------------------------------------
def query_direction(*, default: str | None = "b") -> bool:
    """``dir``: ``b`` or ``f``; answers whether the walk goes backwards."""
    value = query_text("dir", max_length=8)
    if value is None:
        if default is None:
            raise InvalidParam("Query parameter 'dir' must be 'b' or 'f'")
        value = default
    if value not in ("b", "f"):
        raise InvalidParam("Query parameter 'dir' must be 'b' or 'f'")
    return value == "b"


def query_integer(name: str) -> int | None:
    value = query_text(name, max_length=20)
    if value is None:
        return None
    try:
        return int(value, 10)
    except ValueError:
        raise InvalidParam(f"Query parameter '{name}' must be an integer") from None


def query_limit(*, default: int, minimum: int = 0, maximum: int = MAX_LIMIT) -> int:
    value = query_integer("limit")
    if value is None:
        return default
    if value < minimum:
        raise InvalidParam(f"Query parameter 'limit' must be at least {minimum}")
    return min(value, maximum)


def query_token(name: str) -> RoomToken | None:
    """A ``from``/``to``/``at`` token: a pagination token, or any token ``/sync`` hands out (``next_batch``, whose
    events positions count; ``prev_batch`` is a pagination token already), whatever its length up to the bound
    every token parameter shares."""
    value = query_text(name, max_length=MAX_TOKEN_LENGTH)
    if value is None:
        return None
    if value.startswith(SYNC_TOKEN_PREFIX):
        return parse_sync_token(value, name=name).stream(EVENTS_STREAM)
    return parse_token(value, name=name)


def query_filter() -> RoomEventFilter:
    """``filter``: a JSON ``RoomEventFilter`` (spec: "Filtering"), or everything when absent."""
    value = query_text("filter", max_length=MAX_FILTER_LENGTH)
    if value is None:
        return EVERYTHING
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):
        raise NotJson("Query parameter 'filter' is not JSON") from None
    return RoomEventFilter.parse(data)


def room_position(deps: Deps, conn: Connection, room_id: str, token: RoomToken | None) -> RoomPosition | None:
    """A client's token as a position in ``room_id``: stream tokens (from ``/sync``) are placed topologically."""
    if isinstance(token, StreamPosition):
        return deps.stores.events.get_position_at_stream(conn, room_id, token.stream)
    if isinstance(token, WriterPositions):
        return deps.stores.events.get_position_up_to(conn, room_id, token)
    return token
