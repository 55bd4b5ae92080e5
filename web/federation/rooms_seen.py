"""What a remote server may learn about a local room (Server-Server API, "Room visibility" and the space
hierarchy's "could feasibly peek or join"): the server is in the room when one of its users is joined, and a room
is open to it when it is public, knockable, world readable, or one of its users is invited or meets a
restricted room's condition."""

from __future__ import annotations

from sqlalchemy import Connection

from protocol.identifiers import server_of
from web.client.room_summaries import RoomSummary
from web.deps import Deps

RESTRICTED = ("restricted", "knock_restricted")


def members_of_server(current: Deps, conn: Connection, room_id: str, server_name: str, membership: str) -> list[str]:
    members = current.stores.state.list_members(conn, room_id, membership)
    return [user_id for user_id in members if server_of(user_id) == server_name]


def server_in_room(current: Deps, conn: Connection, room_id: str, server_name: str) -> bool:
    return bool(members_of_server(current, conn, room_id, server_name, "join"))


def open_to_server(current: Deps, conn: Connection, summary: RoomSummary, server_name: str) -> bool:
    if summary.world_readable or summary.join_rule in ("public", "knock"):
        return True
    room_id = summary.room_id
    if members_of_server(current, conn, room_id, server_name, "join") or \
            members_of_server(current, conn, room_id, server_name, "invite"):
        return True
    return summary.join_rule in RESTRICTED and any(
        members_of_server(current, conn, allowed, server_name, "join") for allowed in summary.allowed_room_ids)
