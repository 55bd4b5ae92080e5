"""Reading room history: ``/messages``, ``/context`` and ``/timestamp_to_event`` (Client-Server API,
"Syncing" > "Getting events for a room", "Pagination", and "Room participation").

Events sort topologically, by ``(depth, stream_ordering)``, and tokens are positions in that order
(``protocol/tokens.py``). Every event returned passes ``visible_events``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Blueprint
from sqlalchemy import Connection

from persistence.stores.events import StoredEvent
from protocol.errors import InvalidParam, MissingParam, NotFound
from protocol.filters import RoomEventFilter
from protocol.sync_tokens import MAX_TOKEN_LENGTH
from protocol.tokens import START, RoomPosition
from web.auth import authenticate
from web.client.paging import (
    Page,
    RoomToken,
    query_direction,
    query_filter,
    query_integer,
    query_limit,
    query_token,
    reader_horizon,
    room_position,
    walk_timeline,
)
from web.client.room_access import visible_events
from web.client.serving import serve_events
from web.deps import Deps, deps
from web.federation.backfilling import backfill_room
from web.requests import query_text
from web.routing import client_route

DEFAULT_LIMIT = 10
TIMESTAMP_CANDIDATES = 20
"""Events ``/timestamp_to_event`` considers before concluding the reader may see none near the timestamp."""


def serve(current: Deps, conn: Connection, events: Iterable[StoredEvent], user_id: str) -> list[dict[str, Any]]:
    """Events in client format for ``user_id`` (redacted where a redaction applies, else with their bundled
    aggregations); call inside the read transaction."""
    return serve_events(current, conn, list(events), current.clock.now_ms(), user_id)


def _member_state(current: Deps, conn: Connection, room_id: str, user_id: str, at_event: str,
                  senders: Iterable[str]) -> list[StoredEvent]:
    """Membership of ``senders`` as of ``at_event`` (spec: "Lazy-loading room members")."""
    group = current.stores.state.get_event_state_group(conn, at_event)
    if group is None:
        return []
    state = current.stores.state.get_state(conn, group)
    wanted = [state[("m.room.member", sender)] for sender in dict.fromkeys(senders)
              if ("m.room.member", sender) in state]
    found = current.stores.events.get_events(conn, wanted)
    return visible_events(current, conn, room_id, user_id, [found[event_id] for event_id in wanted
                                                             if event_id in found])


def get_room_events(room_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    backwards = query_direction()
    from_token, to_token = query_token("from"), query_token("to")
    event_filter = query_filter()
    limit = query_limit(default=DEFAULT_LIMIT)
    if event_filter.limit == 0:  # fine for a /sync timeline (state only); a page of nothing would never end
        raise InvalidParam("Filter field 'limit' must be at least 1 for /messages")
    if event_filter.limit is not None:
        limit = min(limit, event_filter.limit)
    backfilled = False
    while True:
        with current.database.read() as conn:
            body, page, from_ = _page(current, conn, room_id, requester.user_id, backwards=backwards, limit=limit,
                                      from_token=from_token, to_token=to_token, event_filter=event_filter)
        # Paging back past this server's history of a room joined over federation, or over a gap in it (an
        # event whose prev events this server lacks): ask a resident server for what came before
        # (web/federation/backfilling.py), once per request, then read again.
        reached = None if page.exhausted else page.position
        if backfilled or not backwards or not backfill_room(current, room_id, from_, reached):
            return body
        backfilled = True


def _page(current: Deps, conn: Connection, room_id: str, user_id: str, *, backwards: bool, limit: int,
          from_token: RoomToken | None, to_token: RoomToken | None,
          event_filter: RoomEventFilter) -> tuple[dict[str, Any], Page[StoredEvent], RoomPosition]:
    """One read of ``/messages``: the body, the page it shows and where the walk started."""
    horizon = reader_horizon(current, conn, room_id, user_id)
    from_ = room_position(current, conn, room_id, from_token)
    if from_ is None:
        from_ = current.stores.events.get_room_end_position(conn, room_id) if backwards else START
    start = query_text("from", max_length=MAX_TOKEN_LENGTH) or from_.format()
    to = room_position(current, conn, room_id, to_token)
    if horizon is not None:  # a departed member pages no further than their leave
        if backwards:
            from_ = min(from_, horizon)
        else:
            to = horizon if to is None else min(to, horizon)
    page = walk_timeline(current, conn, room_id, user_id, from_=from_, to=to, backwards=backwards,
                         limit=limit, event_filter=event_filter)
    body: dict[str, Any] = {"chunk": serve(current, conn, page.items, user_id), "start": start}
    # The spec omits ``end`` where no further events are available. Unbounded by ``to``, a page that found
    # events says where to continue whichever way it walked, and only the empty page after it ends the walk,
    # as Synapse answers: forwards, later events may yet come (SyTest pages on from a sync's next_batch);
    # backwards, SyTest and clients expect an ``end`` with the page that reached the room's first event. A
    # page that reached ``to`` is the end.
    unbounded = to_token is None and bool(page.items)
    if (not page.exhausted or unbounded) and page.position is not None:
        body["end"] = page.position.format()
    if event_filter.lazy_load_members and page.items:
        state = _member_state(current, conn, room_id, user_id, page.items[0].event_id,
                              (stored.event.sender for stored in page.items))
        if state:
            body["state"] = serve(current, conn, state, user_id)
    return body, page, from_


def _context_state(current: Deps, conn: Connection, room_id: str, user_id: str, at_event: str,
                   shown: list[StoredEvent], event_filter: RoomEventFilter) -> list[StoredEvent]:
    """The state at ``at_event`` through the filter; with lazy loading, only the members who sent ``shown``."""
    group = current.stores.state.get_event_state_group(conn, at_event)
    if group is None:
        return []
    state = current.stores.state.get_state(conn, group)
    senders = {stored.event.sender for stored in shown}
    wanted = [event_id for (kind, state_key), event_id in state.items()
              if not (event_filter.lazy_load_members and kind == "m.room.member" and state_key not in senders)]
    found = current.stores.events.get_events(conn, wanted).values()
    matching = sorted((stored for stored in found
                       if event_filter.matches(stored.event.type, stored.event.sender, stored.event.content)),
                      key=lambda stored: stored.stream_ordering)
    return visible_events(current, conn, room_id, user_id, matching)


def get_event_context(room_id: str, event_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    limit = query_limit(default=DEFAULT_LIMIT)
    event_filter = query_filter()
    user_id = requester.user_id
    with current.database.read() as conn:
        reader_horizon(current, conn, room_id, user_id)
        stored = current.stores.events.get_event(conn, event_id)
        if stored is None or stored.room_id != room_id or stored.rejected_reason is not None:
            raise NotFound("Event not found")
        shown = visible_events(current, conn, room_id, user_id, [stored])
        if not shown:
            raise NotFound("Event not found")
        depth, stream = stored.event.depth, stored.stream_ordering
        # The limit is shared by both sides, as Synapse splits it: half before, the rest after.
        before = walk_timeline(current, conn, room_id, user_id, from_=RoomPosition.before(depth, stream), to=None,
                               backwards=True, limit=limit // 2, event_filter=event_filter)
        after = walk_timeline(current, conn, room_id, user_id, from_=RoomPosition.after(depth, stream), to=None,
                              backwards=False, limit=limit - limit // 2, event_filter=event_filter)
        last = after.items[-1] if after.items else stored
        state = _context_state(current, conn, room_id, user_id, last.event_id,
                               [*before.items, stored, *after.items], event_filter)
        return {
            "event": serve(current, conn, shown, user_id)[0],
            "events_before": serve(current, conn, before.items, user_id),
            "events_after": serve(current, conn, after.items, user_id),
            "start": (before.position or RoomPosition.before(depth, stream)).format(),
            "end": (after.position or RoomPosition.after(depth, stream)).format(),
            "state": serve(current, conn, state, user_id),
        }


def get_event_by_timestamp(room_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    ts = query_integer("ts")
    if ts is None:
        raise MissingParam("Missing parameter: ts")
    if query_text("dir", max_length=8) is None:
        raise MissingParam("Missing parameter: dir")
    backwards = query_direction()
    if not -(2**63) <= ts < 2**63:
        raise InvalidParam("Query parameter 'ts' is out of range")
    with current.database.read() as conn:
        reader_horizon(current, conn, room_id, requester.user_id)
        candidates = current.stores.events.list_events_by_timestamp(conn, room_id, ts, backwards=backwards,
                                                                    limit=TIMESTAMP_CANDIDATES)
        shown = visible_events(current, conn, room_id, requester.user_id, candidates)
    if not shown:
        direction = "backward" if backwards else "forward"
        raise NotFound(f"Unable to find event from {ts} in {direction} direction")
    return {"event_id": shown[0].event_id, "origin_server_ts": shown[0].event.origin_server_ts}


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/rooms/<room_id>/messages", methods=["GET"])(get_room_events)
    client_route(blueprint, "/rooms/<room_id>/context/<event_id:event_id>", methods=["GET"])(get_event_context)
    client_route(blueprint, "/rooms/<room_id>/timestamp_to_event", methods=["GET"],
                 versions=("v1",))(get_event_by_timestamp)
