"""Local user accounts."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from persistence.tables import erased_users, users


class UserExists(Exception):
    """The user id is already taken (raised inside the inserting transaction)."""


@dataclass(frozen=True)
class User:
    user_id: str
    password_hash: str | None
    created_ts: int
    is_guest: bool
    admin: bool
    user_type: str | None
    deactivated: bool


class UserStore:
    def insert_user(self, conn: Connection, user: User) -> None:
        try:
            with conn.begin_nested():
                conn.execute(insert(users).values(**user.__dict__))
        except IntegrityError:
            raise UserExists(user.user_id) from None

    def get_user(self, conn: Connection, user_id: str) -> User | None:
        row = conn.execute(select(users).where(users.c.user_id == user_id)).mappings().first()
        return User(**row) if row else None

    def list_user_ids_case_insensitive(self, conn: Connection, user_id: str) -> list[str]:
        """Accounts whose id matches ignoring case: login accepts any casing when it is unambiguous."""
        rows = conn.execute(select(users.c.user_id).where(func.lower(users.c.user_id) == user_id.lower()))
        return [row.user_id for row in rows]

    def update_password_hash(self, conn: Connection, user_id: str, password_hash: str | None) -> None:
        conn.execute(update(users).where(users.c.user_id == user_id).values(password_hash=password_hash))

    def list_guests(self, conn: Connection, user_ids: list[str]) -> list[str]:
        """Which of ``user_ids`` are local guest accounts."""
        if not user_ids:
            return []
        rows = conn.execute(select(users.c.user_id).where(users.c.user_id.in_(user_ids), users.c.is_guest.is_(True)))
        return sorted(row.user_id for row in rows)

    def update_guest_to_full_account(self, conn: Connection, user_id: str, password_hash: str | None) -> bool:
        """Make a guest account a full one with this password; False if ``user_id`` is not a guest (any more)."""
        return bool(conn.execute(update(users).where(users.c.user_id == user_id, users.c.is_guest.is_(True))
                                 .values(is_guest=False, password_hash=password_hash)).rowcount)

    def insert_erased(self, conn: Connection, user_id: str, now_ms: int) -> None:
        """Record that ``user_id`` asked to be erased (once; asking again changes nothing)."""
        if not conn.execute(select(erased_users.c.user_id).where(erased_users.c.user_id == user_id)).first():
            conn.execute(insert(erased_users).values(user_id=user_id, erased_ts=now_ms))

    def list_erased(self, conn: Connection, user_ids: Collection[str]) -> set[str]:
        """Which of ``user_ids`` are erased."""
        if not user_ids:
            return set()
        rows = conn.execute(select(erased_users.c.user_id).where(erased_users.c.user_id.in_(list(user_ids))))
        return {row.user_id for row in rows}

    def update_deactivated(self, conn: Connection, user_id: str, deactivated: bool) -> None:
        conn.execute(update(users).where(users.c.user_id == user_id).values(deactivated=deactivated))

    def update_admin(self, conn: Connection, user_id: str, admin: bool) -> None:
        conn.execute(update(users).where(users.c.user_id == user_id).values(admin=admin))
