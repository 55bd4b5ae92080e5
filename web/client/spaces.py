"""Space hierarchies (Client-Server API, "Spaces", ``GET /_matrix/client/v1/rooms/{roomId}/hierarchy``).

A depth-first walk over the ``m.space.child`` state of local rooms, children in the spec's order ("Ordering of
children within a space"), each room shown only when the requester may preview it. Rooms this server does not
know would need federation and are left out. Pagination tokens are stateless: they say how many rooms the walk
has already returned and with which ``suggested_only``/``max_depth``, and the next page walks again past them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import Blueprint
from sqlalchemy import Connection

from protocol.errors import Forbidden, InvalidParam
from web.auth import authenticate
from web.client.room_summaries import RoomSummary, Viewer, summarise
from web.deps import Deps, deps
from web.requests import query_text
from web.routing import client_route

SPACE_CHILD = "m.space.child"
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_DEPTH = 10
"""Default and ceiling of ``max_depth`` (the spec asks servers for both)."""
MAX_ROOMS_WALKED = 1000
"""However the rooms link up, one request looks at no more rooms than this (loops are also cut by a seen-set)."""
MAX_ORDER_LENGTH = 50
_TOKEN = re.compile(r"h(\d{1,9})_([01])_(\d{1,3})")
_ORDER_CHARS = re.compile(r"[\x20-\x7e]*")


@dataclass(frozen=True)
class Child:
    room_id: str
    order: str | None
    origin_server_ts: int
    stripped: dict[str, Any]

    def sort_key(self) -> tuple[int, str, int, str]:
        # Valid ``order`` values first, by code point; then the rest; ties by timestamp, then room id.
        return (0, self.order, self.origin_server_ts, self.room_id) if self.order is not None else (
            1, "", self.origin_server_ts, self.room_id)


def space_children(current: Deps, conn: Connection, room_id: str, suggested_only: bool) -> list[Child]:
    """The space's valid children (``via`` a non-empty list), in the spec's order."""
    ids = current.stores.state.list_current_state_of_type(conn, room_id, SPACE_CHILD)
    children = []
    for stored in current.stores.events.get_events(conn, ids.values()).values():
        event, content = stored.event, stored.event.content
        via = content.get("via")
        if not event.state_key or not isinstance(via, list) or not via:
            continue
        if suggested_only and content.get("suggested") is not True:
            continue
        order = content.get("order")
        valid_order = isinstance(order, str) and len(order) <= MAX_ORDER_LENGTH and _ORDER_CHARS.fullmatch(order)
        children.append(Child(event.state_key, order if valid_order else None, event.origin_server_ts, {
            "type": event.type, "state_key": event.state_key, "content": dict(content), "sender": event.sender,
            "origin_server_ts": event.origin_server_ts}))
    return sorted(children, key=Child.sort_key)


def _walk(current: Deps, conn: Connection, viewer: Viewer, root: RoomSummary, *, suggested_only: bool,
          max_depth: int, wanted: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    pending = [(root.room_id, 0)]
    while pending and len(found) < wanted and len(seen) < MAX_ROOMS_WALKED:
        room_id, depth = pending.pop()
        if room_id in seen:
            continue
        seen.add(room_id)
        summary = root if room_id == root.room_id else summarise(current, conn, room_id)
        if summary is None or not viewer.may_preview(summary):
            continue
        # Spec: children_state is empty for rooms that are not spaces.
        children = space_children(current, conn, room_id, suggested_only) if summary.room_type == "m.space" else []
        found.append({**summary.hierarchy_chunk(), "children_state": [child.stripped for child in children]})
        if depth < max_depth:
            pending.extend((child.room_id, depth + 1) for child in reversed(children))
    return found


def _integer(name: str, default: int, minimum: int) -> int:
    raw = query_text(name, max_length=12)
    if raw is None:
        return default
    if not re.fullmatch(r"-?\d+", raw) or int(raw) < minimum:
        raise InvalidParam(f"'{name}' must be an integer of at least {minimum}")
    return int(raw)


def _flag(name: str) -> bool:
    raw = query_text(name, max_length=8)
    if raw not in (None, "true", "false"):
        raise InvalidParam(f"'{name}' must be 'true' or 'false'")
    return raw == "true"


def get_space_hierarchy(room_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    suggested_only = _flag("suggested_only")
    limit = min(_integer("limit", DEFAULT_LIMIT, 1), MAX_LIMIT)
    max_depth = min(_integer("max_depth", MAX_DEPTH, 0), MAX_DEPTH)
    skip = 0
    token = query_text("from", max_length=64)
    if token is not None:
        match = _TOKEN.fullmatch(token)
        if match is None:
            raise InvalidParam("Unknown pagination token")
        if (match.group(2) == "1") != suggested_only or int(match.group(3)) != max_depth:
            raise InvalidParam("suggested_only and max_depth cannot change on paginated requests")
        skip = int(match.group(1))
    with current.database.read() as conn:
        viewer = Viewer.of(current, conn, requester.user_id)
        root = summarise(current, conn, room_id)
        if root is None or not viewer.may_preview(root):
            raise Forbidden("You are not allowed to view this room.")
        rooms = _walk(current, conn, viewer, root, suggested_only=suggested_only, max_depth=max_depth,
                      wanted=skip + limit + 1)
    response: dict[str, Any] = {"rooms": rooms[skip:skip + limit]}
    if len(rooms) > skip + limit:
        response["next_batch"] = f"h{skip + limit}_{int(suggested_only)}_{max_depth}"
    return response


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/rooms/<room_id>/hierarchy", methods=["GET"], versions=("v1",))(get_space_hierarchy)
