"""Serving a room's events to other servers: ``/event``, ``/state``, ``/state_ids``, ``/event_auth``,
``/backfill`` and ``/get_missing_events`` (Server-Server API, "Retrieving events", "Backfilling and retrieving
missing events").

Every view reads; none writes. A server must pass the room's server ACL and be in the room (``room_access``),
and receives events its users could not see redacted. "The state at an event" is the state *before* it, as
Synapse serves it: a server asks for it to judge that very event.
"""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy import Connection

from persistence.stores import Stores
from persistence.stores.events import StoredEvent, topological_key
from protocol.errors import BadJson, InvalidParam, MissingParam, NotFound
from protocol.events.model import StateKey
from web.deps import deps
from web.federation.auth import server_authenticated
from web.federation.room_access import check_room_access, visible_to_server
from web.requests import json_body

DEFAULT_BACKFILL_LIMIT = 10
MAX_BACKFILL_LIMIT = 100
DEFAULT_MISSING_EVENTS_LIMIT = 10
MAX_MISSING_EVENTS_LIMIT = 20
"""Synapse caps ``get_missing_events`` at 20 too: a larger gap is filled through ``/state_ids`` instead."""


def _envelope(pdus: list[dict[str, Any]]) -> dict[str, Any]:
    current = deps()
    return {"origin": current.config.server_name, "origin_server_ts": current.clock.now_ms(), "pdus": pdus}


def _stored_in_room(stores: Stores, conn: Connection, room_id: str, event_id: str) -> StoredEvent:
    stored = stores.events.get_event(conn, event_id)
    if stored is None or stored.room_id != room_id:
        raise NotFound("Unknown event")
    return stored


def _state_before(stores: Stores, conn: Connection, stored: StoredEvent) -> dict[StateKey, str]:
    """The state before ``stored``: the state after it, less its own change. Outliers have no known state, and
    a rejected event none that counts: 404 for both, as Synapse answers."""
    group = stores.state.get_event_state_group(conn, stored.event_id)
    if group is None or stored.rejected_reason is not None:
        raise NotFound("The state at this event is not known")
    state = stores.state.get_state(conn, group)
    event = stored.event
    if event.is_state and state.get(event.state_tuple) == event.event_id:
        if stored.replaces_state is not None:
            state[event.state_tuple] = stored.replaces_state
        else:
            del state[event.state_tuple]
    return state


def _event_id_arg() -> str:
    event_id = request.args.get("event_id")
    if not event_id:
        raise MissingParam("Missing parameter: event_id")
    return event_id


def _limit_arg(default: int, ceiling: int) -> int:
    text = request.args.get("limit")
    if text is None:
        return default
    try:
        limit = int(text)
    except ValueError:
        raise InvalidParam("limit must be an integer") from None
    if limit < 0:
        raise InvalidParam("limit must not be negative")
    return min(limit, ceiling)


@server_authenticated
def get_event(event_id: str, *, origin: str) -> dict[str, Any]:
    """One event, as the requesting server may see it."""
    current = deps()
    with current.database.read() as conn:
        stored = current.stores.events.get_event(conn, event_id)
        if stored is None:
            raise NotFound("Unknown event")
        check_room_access(current.stores, conn, stored.room_id, origin)
        shown = visible_to_server(current.stores, conn, [stored], origin)
    return _envelope([dict(event.pdu) for event in shown])


def _state_and_auth_chain(room_id: str, origin: str) -> tuple[list[StoredEvent], list[StoredEvent]]:
    current = deps()
    stores = current.stores
    event_id = _event_id_arg()
    with current.database.read() as conn:
        check_room_access(stores, conn, room_id, origin)
        stored = _stored_in_room(stores, conn, room_id, event_id)
        state_ids = sorted(_state_before(stores, conn, stored).values())
        chain_ids = sorted(stores.event_graph.get_auth_chain_ids(conn, state_ids))
        found = stores.events.get_events(conn, [*state_ids, *chain_ids])
    # Oldest first (as send_join answers): a receiver taking them in order builds on what it already has.
    return (sorted((found[event_id] for event_id in state_ids if event_id in found), key=topological_key),
            sorted((found[event_id] for event_id in chain_ids if event_id in found), key=topological_key))


@server_authenticated
def get_state_ids(room_id: str, *, origin: str) -> dict[str, Any]:
    """The ids of the state before an event, and of that state's auth chain."""
    state, chain = _state_and_auth_chain(room_id, origin)
    return {"pdu_ids": [item.event_id for item in state], "auth_chain_ids": [item.event_id for item in chain]}


@server_authenticated
def get_state(room_id: str, *, origin: str) -> dict[str, Any]:
    """The state before an event, and its auth chain, as whole PDUs."""
    state, chain = _state_and_auth_chain(room_id, origin)
    return {"pdus": [dict(item.event.pdu) for item in state], "auth_chain": [dict(item.event.pdu) for item in chain]}


@server_authenticated
def get_event_auth(room_id: str, event_id: str, *, origin: str) -> dict[str, Any]:
    """The full auth chain of an event."""
    current = deps()
    stores = current.stores
    with current.database.read() as conn:
        check_room_access(stores, conn, room_id, origin)
        _stored_in_room(stores, conn, room_id, event_id)
        chain = stores.events.get_events(conn, sorted(stores.event_graph.get_auth_chain_ids(conn, [event_id])))
    return {"auth_chain": [dict(item.event.pdu) for item in sorted(chain.values(), key=topological_key)]}


def _walk_back(stores: Stores, conn: Connection, room_id: str, start: list[str], *, stop: set[str], limit: int,
               min_depth: int = 0, include_start: bool) -> list[StoredEvent]:
    """Events reached walking ``prev_events`` from ``start``, deepest first, at most ``limit``, never past
    ``stop`` nor below ``min_depth``."""
    found: dict[str, StoredEvent] = {}
    seen = set(start) | stop
    frontier = [event_id for event_id in start if event_id not in stop]
    if not include_start:
        links = stores.event_graph.get_prev_event_ids(conn, frontier)
        frontier = [prev for event_id in frontier for prev in links.get(event_id, []) if prev not in seen]
        seen.update(frontier)
    while frontier and len(found) < limit:
        loaded = stores.events.get_events(conn, frontier)
        layer = sorted((item for item in loaded.values() if item.room_id == room_id and item.event.depth >= min_depth),
                       key=lambda item: (-item.event.depth, item.event_id))
        for item in layer[:limit - len(found)]:
            found[item.event_id] = item
        links = stores.event_graph.get_prev_event_ids(conn, [item.event_id for item in layer])
        frontier = []
        for prevs in links.values():
            for prev in prevs:
                if prev not in seen:
                    seen.add(prev)
                    frontier.append(prev)
    return list(found.values())


@server_authenticated
def backfill(room_id: str, *, origin: str) -> dict[str, Any]:
    """Up to ``limit`` events walking back from the ``v`` events (included), most recent first."""
    current = deps()
    stores = current.stores
    starts = request.args.getlist("v")
    if not starts:
        raise MissingParam("Missing parameter: v")
    limit = _limit_arg(DEFAULT_BACKFILL_LIMIT, MAX_BACKFILL_LIMIT)
    with current.database.read() as conn:
        check_room_access(stores, conn, room_id, origin)
        events = _walk_back(stores, conn, room_id, starts, stop=set(), limit=limit, include_start=True)
        shown = visible_to_server(stores, conn, events, origin)
    return _envelope([dict(event.pdu) for event in shown])


def _id_list(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadJson(f"{key} must be a list of event ids")
    return value


def _int_field(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadJson(f"{key} must be a non-negative integer")
    return value


@server_authenticated
def get_missing_events(room_id: str, *, origin: str) -> dict[str, Any]:
    """Events before ``latest_events`` and after ``earliest_events``, oldest first (what a server lacks to link
    an event it received to what it holds)."""
    current = deps()
    stores = current.stores
    body = json_body().data
    latest = _id_list(body, "latest_events")
    earliest = _id_list(body, "earliest_events")
    limit = min(_int_field(body, "limit", DEFAULT_MISSING_EVENTS_LIMIT), MAX_MISSING_EVENTS_LIMIT)
    min_depth = _int_field(body, "min_depth", 0)
    with current.database.read() as conn:
        check_room_access(stores, conn, room_id, origin)
        events = _walk_back(stores, conn, room_id, latest, stop=set(earliest), limit=limit, min_depth=min_depth,
                            include_start=False)
        events.sort(key=lambda item: (item.event.depth, item.stream_ordering))
        shown = visible_to_server(stores, conn, events, origin)
    return {"events": [dict(event.pdu) for event in shown]}

