"""``GET /_matrix/federation/v1/hierarchy/{roomId}`` (Server-Server API, "Spaces"): one level of a local space for
another server, which walks further itself. Children the origin could not peek or join are named only, under
``inaccessible_children``; children this server does not know are left out (the origin may ask their servers)."""

from __future__ import annotations

from typing import Any

from protocol.errors import InvalidParam, NotFound
from web.client.room_summaries import summarise
from web.client.spaces import space_children
from web.deps import deps
from web.federation.auth import server_authenticated
from web.federation.rooms_seen import open_to_server
from web.requests import query_text

SPACE = "m.space"


@server_authenticated
def get_hierarchy(room_id: str, *, origin: str) -> dict[str, Any]:
    current = deps()
    raw = query_text("suggested_only", max_length=8)
    if raw not in (None, "true", "false"):
        raise InvalidParam("'suggested_only' must be 'true' or 'false'")
    suggested_only = raw == "true"
    with current.database.read() as conn:
        root = summarise(current, conn, room_id)
        if root is None or not open_to_server(current, conn, root, origin):
            raise NotFound("Unknown room")
        children = space_children(current, conn, room_id, suggested_only) if root.room_type == SPACE else []
        shown, inaccessible = [], []
        for child in children:
            summary = summarise(current, conn, child.room_id)
            if summary is None:
                continue
            if open_to_server(current, conn, summary, origin):
                shown.append(summary.hierarchy_chunk())
            else:
                inaccessible.append(child.room_id)
    return {"room": {**root.hierarchy_chunk(), "children_state": [child.stripped for child in children]},
            "children": shown, "inaccessible_children": inaccessible}
