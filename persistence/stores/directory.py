"""The rooms published in this server's room directory (Client-Server API, "Published room directory").

Not a stream: the web tier publishes and unpublishes directly. What a listing shows of each room is read from
the room's current state by the caller; this table only says which rooms are listed.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from persistence.tables import room_directory


class DirectoryStore:
    def insert_published(self, conn: Connection, room_id: str, published_ts: int) -> None:
        """List the room; publishing an already listed room keeps its first timestamp."""
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(room_directory).values(room_id=room_id, published_ts=published_ts)
                     .on_conflict_do_nothing(index_elements=["room_id"]))

    def delete_published(self, conn: Connection, room_id: str) -> None:
        conn.execute(delete(room_directory).where(room_directory.c.room_id == room_id))

    def is_published(self, conn: Connection, room_id: str) -> bool:
        found = conn.execute(select(room_directory.c.room_id).where(room_directory.c.room_id == room_id)).first()
        return found is not None

    def list_published(self, conn: Connection) -> list[str]:
        rows = conn.execute(select(room_directory.c.room_id).order_by(room_directory.c.room_id))
        return [row.room_id for row in rows]
