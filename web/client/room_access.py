"""Who may read what in a room: the one place read endpoints ask.

For now a reader must be joined at the time of reading and then sees everything; history visibility (shared,
invited, joined, world_readable, and state as of a departed member's leave) replaces this behind the same two
functions, so every read path gets it at once.
"""

from __future__ import annotations

from sqlalchemy import Connection

from persistence.stores.events import StoredEvent
from protocol.errors import Forbidden, NotFound
from web.deps import Deps


def require_joined(deps: Deps, conn: Connection, room_id: str, user_id: str) -> None:
    """Refuse (403, or 404 for an unknown room) unless ``user_id`` is joined to ``room_id`` now."""
    if deps.stores.rooms.get_room(conn, room_id) is None:
        raise NotFound("Unknown room")
    if user_id not in deps.stores.state.list_members(conn, room_id, "join"):
        raise Forbidden(f"User {user_id} not in room {room_id}")


def visible_events(deps: Deps, conn: Connection, room_id: str, user_id: str,
                   events: list[StoredEvent]) -> list[StoredEvent]:
    """The subset of ``events`` (all of ``room_id``) that ``user_id`` may see, in the given order."""
    if user_id not in deps.stores.state.list_members(conn, room_id, "join"):
        return []
    return list(events)
