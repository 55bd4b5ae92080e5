"""Event relationships: ``/relations`` and ``/threads`` (Client-Server API, "Relationships", "Threading").

The events writer indexes every ``m.relates_to`` as it stores the event (``event_relations``); these views page
through that index in topological order with the same tokens as ``/messages``. Thread roots come with the
``m.thread`` bundled aggregation the spec requires of ``/threads``, from ``web.client.aggregations`` like every
served event's.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import Connection

from persistence.stores.events import StoredEvent, topological_key
from persistence.stores.relations import ThreadRoot
from protocol.errors import InvalidParam, NotFound
from protocol.sync_tokens import MAX_TOKEN_LENGTH
from protocol.tokens import RoomPosition
from web.auth import authenticate
from web.client.messages import serve
from web.client.paging import (
    gap_after,
    query_direction,
    query_limit,
    query_token,
    reader_horizon,
    room_position,
    walk,
)
from web.client.room_access import visible_events
from web.deps import Deps, deps
from web.requests import query_text
from web.routing import client_route

DEFAULT_RELATIONS_LIMIT = 5  # as Synapse
DEFAULT_THREADS_LIMIT = 5
MAX_RECURSION_DEPTH = 3
"""How many relationships deep ``recurse=true`` follows (the spec asks for at least 3; Synapse does 3)."""


def _query_recurse() -> bool | None:
    value = query_text("recurse", max_length=8)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise InvalidParam("Query parameter 'recurse' must be 'true' or 'false'")
    return value == "true"


def _visible_parent(current: Deps, conn: Connection, room_id: str, user_id: str, event_id: str) -> None:
    """404 unless the parent is an event of this room the user may see (spec: the 404 response)."""
    stored = current.stores.events.get_event(conn, event_id)
    if (stored is None or stored.room_id != room_id or stored.rejected_reason is not None
            or not visible_events(current, conn, room_id, user_id, [stored])):
        raise NotFound("Event not found.")


def _descendants(current: Deps, conn: Connection, event_id: str, levels: int) -> list[str]:
    """``event_id`` and the events relating to it up to ``levels - 1`` relationships away: the parents whose
    children a recursive ``/relations`` returns. Each event is visited once, so a cycle cannot loop."""
    parents, frontier = [event_id], [event_id]
    seen = {event_id}
    for _ in range(levels - 1):
        frontier = [child for child in current.stores.relations.list_children_ids(conn, frontier)
                    if child not in seen]
        seen.update(frontier)
        parents.extend(frontier)
    return parents


def get_relating_events(room_id: str, event_id: str, rel_type: str | None = None,
                        event_type: str | None = None) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    backwards = query_direction()
    from_token, to_token = query_token("from"), query_token("to")
    limit = query_limit(default=DEFAULT_RELATIONS_LIMIT)
    recurse = _query_recurse()
    depth = MAX_RECURSION_DEPTH if recurse else 1
    user_id = requester.user_id
    with current.database.read() as conn:
        reader_horizon(current, conn, room_id, user_id)
        _visible_parent(current, conn, room_id, user_id, event_id)
        parents = _descendants(current, conn, event_id, depth)
        from_ = room_position(current, conn, room_id, from_token)
        to = room_position(current, conn, room_id, to_token)

        def fetch(position: RoomPosition | None, size: int) -> list[StoredEvent]:
            ids = current.stores.relations.list_relations(
                conn, room_id, parents, relation_type=rel_type, event_type=event_type, from_=position, to=to,
                limit=size, backwards=backwards)
            found = current.stores.events.get_events(conn, ids)
            return sorted((found[child] for child in ids if child in found), key=topological_key,
                          reverse=backwards)

        page = walk(fetch, lambda batch: visible_events(current, conn, room_id, user_id, batch),
                    lambda stored: stored.event_id, lambda stored: gap_after(stored, backwards),
                    from_=from_, limit=limit)
        body: dict[str, Any] = {"chunk": serve(current, conn, page.items, user_id)}
    if not page.exhausted and page.position is not None:
        body["next_batch"] = page.position.format()
    given = query_text("from", max_length=MAX_TOKEN_LENGTH)
    if given is not None:
        body["prev_batch"] = given
    if recurse is not None:
        body["recursion_depth"] = depth
    return body


def get_thread_roots(room_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    include = query_text("include", max_length=16) or "all"
    if include not in ("all", "participated"):
        raise InvalidParam("Query parameter 'include' must be 'all' or 'participated'")
    limit = query_limit(default=DEFAULT_THREADS_LIMIT, minimum=1)
    from_token = query_token("from")
    user_id = requester.user_id
    with current.database.read() as conn:
        reader_horizon(current, conn, room_id, user_id)
        from_ = room_position(current, conn, room_id, from_token)
        roots: dict[str, StoredEvent] = {}

        def fetch(position: RoomPosition | None, size: int) -> list[ThreadRoot]:
            threads = current.stores.relations.list_thread_roots(
                conn, room_id, participant=user_id if include == "participated" else None, from_=position,
                limit=size)
            roots.update(current.stores.events.get_events(conn, [thread.root_id for thread in threads]))
            return threads

        def keep(threads: list[ThreadRoot]) -> list[ThreadRoot]:
            candidates = sorted((roots[thread.root_id] for thread in threads if thread.root_id in roots),
                                key=topological_key)
            shown = {stored.event_id: stored for stored in visible_events(current, conn, room_id, user_id,
                                                                          candidates)}
            roots.update(shown)
            return [thread for thread in threads if thread.root_id in shown]

        page = walk(fetch, keep, lambda thread: thread.root_id,
                    lambda thread: RoomPosition.before(thread.latest_depth, thread.latest_stream),
                    from_=from_, limit=limit)
        # Each root is served with its m.thread bundled aggregation, as the spec requires of /threads.
        chunk = serve(current, conn, [roots[thread.root_id] for thread in page.items], user_id)
    body: dict[str, Any] = {"chunk": chunk}
    if not page.exhausted and page.position is not None:
        body["next_batch"] = page.position.format()
    return body


def register_routes(blueprint: Blueprint) -> None:
    base = "/rooms/<room_id>/relations/<event_id:event_id>"
    for path in (base, f"{base}/<rel_type>", f"{base}/<rel_type>/<event_type>"):
        client_route(blueprint, path, methods=["GET"], versions=("v1",))(get_relating_events)
    client_route(blueprint, "/rooms/<room_id>/threads", methods=["GET"], versions=("v1",))(get_thread_roots)
