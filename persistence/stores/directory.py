"""The rooms published in this server's room directory (Client-Server API, "Published room directory").

Not a stream: the web tier publishes and unpublishes directly. What a listing shows of each room is read from
the room's current state by the caller; this table only says which rooms are listed.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from persistence.tables import appservice_room_list, room_directory


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

    def insert_network_room(self, conn: Connection, appservice_id: str, network_id: str, room_id: str) -> None:
        """List the room in an application service's network (its own list, apart from the main directory)."""
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(appservice_room_list)
                     .values(appservice_id=appservice_id, network_id=network_id, room_id=room_id)
                     .on_conflict_do_nothing(index_elements=["appservice_id", "network_id", "room_id"]))

    def delete_network_room(self, conn: Connection, appservice_id: str, network_id: str, room_id: str) -> None:
        conn.execute(delete(appservice_room_list).where(
            appservice_room_list.c.appservice_id == appservice_id, appservice_room_list.c.network_id == network_id,
            appservice_room_list.c.room_id == room_id))

    def list_network_rooms(self, conn: Connection, appservice_id: str | None = None,
                           network_id: str | None = None) -> list[str]:
        """Rooms of one network's list, or of every application service's list (both None)."""
        query = select(appservice_room_list.c.room_id).distinct()
        if appservice_id is not None:
            query = query.where(appservice_room_list.c.appservice_id == appservice_id,
                                appservice_room_list.c.network_id == network_id)
        return [row.room_id for row in conn.execute(query.order_by(appservice_room_list.c.room_id))]
