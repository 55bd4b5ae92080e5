"""The user directory's rows: what ``/user_directory/search`` looks users up by."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, or_, select

from persistence.tables import current_state_events, user_directory
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

    def search_entries(self, conn: Connection, searcher: str, terms: Iterable[str], *, public_rooms: Iterable[str],
                       everyone: bool, limit: int) -> list[DirectoryEntry]:
        """Entries whose user id or display name holds every term (case-insensitive), ordered by user id;
        unless ``everyone``, only users sharing a room with ``searcher`` or joined to one of ``public_rooms``."""
        query = select(user_directory.c.user_id, user_directory.c.display_name, user_directory.c.avatar_url)
        for term in terms:
            pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = query.where(or_(func.lower(user_directory.c.user_id).like(pattern, escape="\\"),
                                    func.lower(user_directory.c.display_name).like(pattern, escape="\\")))
        if not everyone:
            mine, members = current_state_events.alias("mine"), current_state_events.alias("members")
            joined = (members.c.type == "m.room.member", members.c.membership == "join")
            sharing = (select(members.c.state_key).join(mine, mine.c.room_id == members.c.room_id)
                       .where(mine.c.type == "m.room.member", mine.c.state_key == searcher,
                              mine.c.membership == "join", *joined))
            public = select(members.c.state_key).where(members.c.room_id.in_(sorted(set(public_rooms))), *joined)
            query = query.where(or_(user_directory.c.user_id.in_(sharing), user_directory.c.user_id.in_(public)))
        rows = conn.execute(query.order_by(user_directory.c.user_id).limit(limit))
        return [DirectoryEntry(row.user_id, row.display_name, row.avatar_url) for row in rows]
