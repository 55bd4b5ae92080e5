"""Global profiles (display name and avatar) of local users."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update

from persistence.tables import profiles


@dataclass(frozen=True)
class Profile:
    displayname: str | None
    avatar_url: str | None


class ProfileStore:
    def insert_profile(self, conn: Connection, user_id: str, displayname: str | None) -> None:
        conn.execute(insert(profiles).values(user_id=user_id, displayname=displayname, avatar_url=None))

    def get_profile(self, conn: Connection, user_id: str) -> Profile | None:
        row = conn.execute(
            select(profiles.c.displayname, profiles.c.avatar_url).where(profiles.c.user_id == user_id)
        ).first()
        return Profile(row.displayname, row.avatar_url) if row else None

    def update_displayname(self, conn: Connection, user_id: str, displayname: str | None) -> None:
        conn.execute(update(profiles).where(profiles.c.user_id == user_id).values(displayname=displayname))

    def update_avatar_url(self, conn: Connection, user_id: str, avatar_url: str | None) -> None:
        conn.execute(update(profiles).where(profiles.c.user_id == user_id).values(avatar_url=avatar_url))

    def delete_profile_fields(self, conn: Connection, user_id: str) -> None:
        """Blank the profile (on deactivation) while keeping the row the account references."""
        conn.execute(update(profiles).where(profiles.c.user_id == user_id).values(displayname=None, avatar_url=None))

    def delete_profile(self, conn: Connection, user_id: str) -> None:
        conn.execute(delete(profiles).where(profiles.c.user_id == user_id))
