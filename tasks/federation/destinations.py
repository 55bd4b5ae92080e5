"""Which servers a room's (or a user's) outbound federation goes to.

A room's destinations are the servers of its currently joined members, other than us and only those
``federation_domain_whitelist`` allows (Server-Server API, "Transactions": PDUs go to every server in the room).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection

from protocol.identifiers import server_of
from tasks.context import TaskContext


def allowed(context: TaskContext, servers: Iterable[str]) -> list[str]:
    """``servers`` without us and without any the domain whitelist forbids, sorted (the order locks are taken in)."""
    config = context.config
    return sorted({server for server in servers
                   if server and server != config.server_name and config.federation.allows_domain(server)})


def room_destinations(context: TaskContext, conn: Connection, room_id: str) -> list[str]:
    members = context.stores.state.list_members(conn, room_id, "join")
    return allowed(context, (server_of(user_id) for user_id in members))


def user_destinations(context: TaskContext, conn: Connection, user_id: str) -> list[str]:
    """Every server sharing a room with ``user_id`` (who sees their presence)."""
    servers: set[str] = set()
    for room_id in context.stores.state.list_rooms_with_membership(conn, user_id, "join"):
        servers.update(room_destinations(context, conn, room_id))
    return sorted(servers)


def federation_enabled(context: TaskContext) -> bool:
    """Whether any instance sends federation (``send_federation`` / ``federation_sender_instances``)."""
    return bool(context.config.routing.instances("federation"))
