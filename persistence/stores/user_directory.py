"""The user directory's rows: what ``/user_directory/search`` looks users up by."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, select

from persistence.tables import user_directory
from persistence.upsert import upsert


@dataclass(frozen=True)
class DirectoryEntry:
    user_id: str
    display_name: str | None
    avatar_url: str | None


class UserDirectoryStore:
    def upsert_entry(self, conn: Connection, entry: DirectoryEntry, now_ms: int) -> None:
        upsert(conn, user_directory, {"user_id": entry.user_id},
               {"display_name": entry.display_name, "avatar_url": entry.avatar_url, "updated_ts": now_ms})

    def delete_entry(self, conn: Connection, user_id: str) -> None:
        conn.execute(delete(user_directory).where(user_directory.c.user_id == user_id))

    def get_entry(self, conn: Connection, user_id: str) -> DirectoryEntry | None:
        row = conn.execute(
            select(user_directory.c.user_id, user_directory.c.display_name, user_directory.c.avatar_url)
            .where(user_directory.c.user_id == user_id)
        ).first()
        return DirectoryEntry(row.user_id, row.display_name, row.avatar_url) if row else None
