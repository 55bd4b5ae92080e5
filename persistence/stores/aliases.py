"""Room aliases this server holds (Client-Server API, "Room aliases"): alias -> room id, and who made it.

Not a stream: the web tier writes these rows directly, as it does accounts. The primary key on the alias is what
makes "already taken" race-free.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from persistence.tables import room_aliases


class AliasExists(Exception):
    """The alias is already mapped to a room."""


@dataclass(frozen=True)
class RoomAliasEntry:
    room_alias: str
    room_id: str
    creator: str
    created_ts: int


class AliasStore:
    def insert_alias(self, conn: Connection, entry: RoomAliasEntry) -> None:
        """Map ``entry.room_alias``; raises :class:`AliasExists` when it is taken."""
        try:
            with conn.begin_nested():
                conn.execute(insert(room_aliases).values(**entry.__dict__))
        except IntegrityError:
            raise AliasExists(entry.room_alias) from None

    def get_alias(self, conn: Connection, room_alias: str) -> RoomAliasEntry | None:
        row = conn.execute(select(room_aliases).where(room_aliases.c.room_alias == room_alias)).mappings().first()
        return RoomAliasEntry(**row) if row else None

    def list_aliases(self, conn: Connection, room_id: str) -> list[str]:
        rows = conn.execute(select(room_aliases.c.room_alias).where(room_aliases.c.room_id == room_id)
                            .order_by(room_aliases.c.created_ts, room_aliases.c.room_alias))
        return [row.room_alias for row in rows]

    def update_room_of_aliases(self, conn: Connection, old_room_id: str, new_room_id: str) -> list[str]:
        """Point every alias of ``old_room_id`` at ``new_room_id`` (room upgrades); returns the aliases moved."""
        moved = self.list_aliases(conn, old_room_id)
        conn.execute(update(room_aliases).where(room_aliases.c.room_id == old_room_id).values(room_id=new_room_id))
        return moved

    def delete_alias(self, conn: Connection, room_alias: str) -> bool:
        """Remove the mapping; whether there was one."""
        result = conn.execute(delete(room_aliases).where(room_aliases.c.room_alias == room_alias))
        return bool(result.rowcount)
