"""Who may read a room through the read endpoints: for now, its current members.

History visibility (shared, invited, world_readable) refines this in the rooms work that follows; until then a
user who is not joined sees nothing, which never leaks history.
"""

from __future__ import annotations

from sqlalchemy import Connection

from protocol.errors import Forbidden, NotFound
from web.deps import Deps


def require_joined(deps: Deps, conn: Connection, room_id: str, user_id: str) -> None:
    if deps.stores.rooms.get_room(conn, room_id) is None:
        raise NotFound("Unknown room")
    event_id = deps.stores.state.get_current_state_event_id(conn, room_id, ("m.room.member", user_id))
    joined = event_id is not None and user_id in deps.stores.state.list_members(conn, room_id, "join")
    if not joined:
        raise Forbidden(f"User {user_id} not in room {room_id}")
