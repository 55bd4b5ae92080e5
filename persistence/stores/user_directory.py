"""The user directory's rows: what ``/user_directory/search`` looks users up by."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, or_, select

from persistence.tables import current_state_events, profiles, user_directory, users
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

    def list_out_of_date_user_ids(self, conn: Connection, limit: int) -> list[str]:
        """Users whose entry disagrees with their account and profile: listable users without an entry or with a
        stale name or avatar, and entries of users who are gone, deactivated, guests or without a profile. The
        updater's pokes normally keep these empty; this finds what a lost poke or an old bug left behind."""
        listable = (users.c.deactivated.is_(False)) & (users.c.is_guest.is_(False))
        missing_or_stale = (
            select(users.c.user_id)
            .join(profiles, profiles.c.user_id == users.c.user_id)
            .outerjoin(user_directory, user_directory.c.user_id == users.c.user_id)
            .where(listable, or_(user_directory.c.user_id.is_(None),
                                 user_directory.c.display_name.is_distinct_from(profiles.c.displayname),
                                 user_directory.c.avatar_url.is_distinct_from(profiles.c.avatar_url)))
            .limit(limit)
        )
        unlistable = (
            select(user_directory.c.user_id)
            .outerjoin(users, users.c.user_id == user_directory.c.user_id)
            .outerjoin(profiles, profiles.c.user_id == user_directory.c.user_id)
            .where(or_(users.c.user_id.is_(None), ~listable, profiles.c.user_id.is_(None)))
            .limit(limit)
        )
        found = list(conn.execute(missing_or_stale).scalars()) + list(conn.execute(unlistable).scalars())
        return sorted(set(found))[:limit]

    def get_entry(self, conn: Connection, user_id: str) -> DirectoryEntry | None:
        row = conn.execute(
            select(user_directory.c.user_id, user_directory.c.display_name, user_directory.c.avatar_url)
            .where(user_directory.c.user_id == user_id)
        ).first()
        return DirectoryEntry(row.user_id, row.display_name, row.avatar_url) if row else None

    def search_entries(self, conn: Connection, searcher: str, terms: Iterable[str], *, public_rooms: Iterable[str],
                       everyone: bool, limit: int) -> list[DirectoryEntry]:
        """Entries whose user id or display name holds every term (case-insensitive), ordered by user id;
        unless ``everyone``, only other users sharing a room with ``searcher`` and users joined to one of
        ``public_rooms`` (so searchers find themselves only through a public room, as in Synapse)."""
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
                              mine.c.membership == "join", members.c.state_key != searcher, *joined))
            public = select(members.c.state_key).where(members.c.room_id.in_(sorted(set(public_rooms))), *joined)
            query = query.where(or_(user_directory.c.user_id.in_(sharing), user_directory.c.user_id.in_(public)))
        rows = conn.execute(query.order_by(user_directory.c.user_id).limit(limit))
        return [DirectoryEntry(row.user_id, row.display_name, row.avatar_url) for row in rows]
