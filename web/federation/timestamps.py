"""``GET /_matrix/federation/v1/timestamp_to_event/{roomId}`` (Server-Server API, "Timestamp to event"): the
event closest to ``ts`` in direction ``dir`` that this server holds, for a server in the room."""

from __future__ import annotations

from typing import Any

from protocol.errors import Forbidden, InvalidParam, MissingParam, NotFound
from web.client.paging import query_direction, query_integer
from web.deps import deps
from web.federation.auth import server_authenticated
from web.federation.rooms_seen import server_in_room
from web.requests import query_text

CANDIDATES = 1


@server_authenticated
def get_event_by_timestamp(room_id: str, *, origin: str) -> dict[str, Any]:
    current = deps()
    ts = query_integer("ts")
    if ts is None:
        raise MissingParam("Missing parameter: ts")
    if query_text("dir", max_length=8) is None:
        raise MissingParam("Missing parameter: dir")
    backwards = query_direction()
    if not -(2**63) <= ts < 2**63:
        raise InvalidParam("Query parameter 'ts' is out of range")
    with current.database.read() as conn:
        if current.stores.rooms.get_room(conn, room_id) is None:
            raise NotFound("Unknown room")
        # Synapse's rule: only a server in the room may look up its events (it could read them all anyway).
        if not server_in_room(current, conn, room_id, origin):
            raise Forbidden(f"{origin} is not in the room")
        found = current.stores.events.list_events_by_timestamp(conn, room_id, ts, backwards=backwards,
                                                               limit=CANDIDATES)
    if not found:
        direction = "backward" if backwards else "forward"
        raise NotFound(f"Unable to find event from {ts} in {direction} direction")
    return {"event_id": found[0].event_id, "origin_server_ts": found[0].event.origin_server_ts}
