"""Sliding sync connections and their response positions (``persistence/tables/sliding_sync.py``).

Not a stream: the web tier writes these rows itself, right after building a response, as it records the members
lazy-loading ``/sync`` sent. Any web process reads any connection's rows, so a client may land anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update

from persistence.tables import sliding_sync_connections, sliding_sync_positions


@dataclass(frozen=True)
class StoredPosition:
    connection_id: int
    token: str
    """The sync token (``protocol/sync_tokens.py``) the response at this position was built up to."""
    rooms: str
    """What the connection had sent by then (``protocol/sliding_sync/connection_state.py``)."""
    created_ts: int


class SlidingSyncStore:
    def get_position(self, conn: Connection, user_id: str, device_id: str, conn_id: str,
                     position_id: int) -> StoredPosition | None:
        """The position, only if it belongs to this user's device's connection ``conn_id``."""
        connections, positions = sliding_sync_connections, sliding_sync_positions
        row = conn.execute(
            select(positions.c.connection_id, positions.c.token, positions.c.rooms, positions.c.created_ts)
            .join(connections, connections.c.id == positions.c.connection_id)
            .where(positions.c.id == position_id, connections.c.user_id == user_id,
                   connections.c.device_id == device_id, connections.c.conn_id == conn_id)).first()
        return StoredPosition(row.connection_id, row.token, row.rooms, row.created_ts) if row else None

    def start_connection(self, conn: Connection, user_id: str, device_id: str, conn_id: str, now_ms: int) -> int:
        """A fresh connection for ``(user, device, conn_id)``: any earlier one's positions stop being valid."""
        connections = sliding_sync_connections
        found = conn.execute(select(connections.c.id).where(
            connections.c.user_id == user_id, connections.c.device_id == device_id,
            connections.c.conn_id == conn_id)).scalar_one_or_none()
        if found is not None:
            conn.execute(delete(sliding_sync_positions).where(sliding_sync_positions.c.connection_id == found))
            conn.execute(update(connections).where(connections.c.id == found).values(created_ts=now_ms))
            return int(found)
        return int(conn.execute(insert(connections).values(
            user_id=user_id, device_id=device_id, conn_id=conn_id, created_ts=now_ms)
            .returning(connections.c.id)).scalar_one())

    def insert_position(self, conn: Connection, connection_id: int, token: str, rooms: str, now_ms: int) -> int:
        return int(conn.execute(insert(sliding_sync_positions).values(
            connection_id=connection_id, token=token, rooms=rooms, created_ts=now_ms)
            .returning(sliding_sync_positions.c.id)).scalar_one())

    def delete_positions_before(self, conn: Connection, connection_id: int, position_id: int) -> None:
        """The client named ``position_id``: it holds that response, so none before it will be named again."""
        conn.execute(delete(sliding_sync_positions).where(sliding_sync_positions.c.connection_id == connection_id,
                                                          sliding_sync_positions.c.id < position_id))

    def delete_idle_connections(self, conn: Connection, user_id: str, before_ms: int) -> None:
        """Forget the user's connections with no position made since ``before_ms`` (their clients went away)."""
        connections, positions = sliding_sync_connections, sliding_sync_positions
        recent = select(positions.c.connection_id).where(positions.c.created_ts >= before_ms)
        idle = select(connections.c.id).where(connections.c.user_id == user_id,
                                              connections.c.created_ts < before_ms, connections.c.id.notin_(recent))
        ids = [row.id for row in conn.execute(idle)]
        if ids:
            conn.execute(delete(positions).where(positions.c.connection_id.in_(ids)))
            conn.execute(delete(connections).where(connections.c.id.in_(ids)))
