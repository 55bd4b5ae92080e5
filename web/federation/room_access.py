"""Whether a server may read a room's events: its server ACL, its presence in the room, history visibility.

Spec: Server-Server API, "Server Access Control Lists (ACLs)" (a denied server gets 403 on every room endpoint)
and "Retrieving events": a server may read the events its users could see. As Synapse does, a server reads an
event when the room was ``world_readable`` or ``shared`` then, or when one of its users was joined (or, for
``invited``, invited) at it; otherwise it receives the event redacted, so the DAG still links up. Erased
users' events are always served redacted (Client-Server API, "Account deactivation" with ``erase``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection

from persistence.stores import Stores
from persistence.stores.events import StoredEvent
from persistence.stores.rooms import Room
from protocol.errors import Forbidden, NotFound
from protocol.events.model import Event
from protocol.federation.server_acl import SERVER_ACL_TYPE, server_allowed
from protocol.identifiers import server_of
from protocol.redaction import redact_event
from protocol.visibility import HISTORY_VISIBILITY_KEY, INVITED, SHARED, WORLD_READABLE, history_visibility_of


def check_acl(stores: Stores, conn: Connection, room_id: str, server_name: str) -> None:
    """403 unless the room's current ``m.room.server_acl`` lets ``server_name`` in."""
    acl_id = stores.state.get_current_state_event_id(conn, room_id, (SERVER_ACL_TYPE, ""))
    acl = stores.events.get_event(conn, acl_id) if acl_id is not None else None
    if acl is not None and not server_allowed(acl.event.content, server_name):
        raise Forbidden("Server is banned from room")


def check_room_access(stores: Stores, conn: Connection, room_id: str, server_name: str) -> Room:
    """The room, when ``server_name`` may read it now: not denied by its ACL and with a user joined, or the room
    ``world_readable``. 404 for a room this server does not know, 403 otherwise."""
    room = stores.rooms.get_room(conn, room_id)
    if room is None:
        raise NotFound("Unknown room")
    check_acl(stores, conn, room_id, server_name)
    members = stores.state.list_members(conn, room_id, "join")
    if any(server_of(user_id) == server_name for user_id in members):
        return room
    visibility_id = stores.state.get_current_state_event_id(conn, room_id, HISTORY_VISIBILITY_KEY)
    visibility = stores.events.get_event(conn, visibility_id) if visibility_id else None
    if visibility is not None and history_visibility_of(visibility.event.content) == WORLD_READABLE:
        return room
    raise Forbidden("Host not in room.")


def visible_to_server(stores: Stores, conn: Connection, stored: Iterable[StoredEvent],
                      server_name: str) -> list[Event]:
    """The events as ``server_name`` may receive them: whole where its users could see them, else redacted; the
    events of users who asked to be erased are redacted for every other server (as for every other user)."""
    wanted = list(stored)
    groups = stores.state.get_event_state_groups(conn, [item.event_id for item in wanted])
    states = stores.state.get_state_ids_for_groups(conn, set(groups.values())) if groups else {}
    erased = stores.users.list_erased(conn, {item.event.sender for item in wanted})
    shown = []
    for item in wanted:
        state = states.get(groups[item.event_id], {}) if item.event_id in groups else {}
        if item.event.sender not in erased and _may_see(stores, conn, state, server_name):
            shown.append(item.event)
        else:
            shown.append(Event(item.event_id, item.event.room_version,
                               redact_event(item.event.pdu, item.event.room_version)))
    return shown


def _may_see(stores: Stores, conn: Connection, state: dict[tuple[str, str], str], server_name: str) -> bool:
    visibility_id = state.get(HISTORY_VISIBILITY_KEY)
    visibility_event = stores.events.get_event(conn, visibility_id) if visibility_id else None
    visibility = history_visibility_of(visibility_event.event.content if visibility_event else None)
    if visibility in (WORLD_READABLE, SHARED):
        return True
    member_ids = [event_id for (event_type, state_key), event_id in state.items()
                  if event_type == "m.room.member" and server_of(state_key) == server_name]
    allowed = {"join", "invite"} if visibility == INVITED else {"join"}
    members = stores.events.get_events(conn, member_ids)
    return any(found.event.membership in allowed for found in members.values())
