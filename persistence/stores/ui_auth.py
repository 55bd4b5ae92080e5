"""User-interactive auth sessions, kept in the database so any web worker can continue a flow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from persistence.tables import ui_auth_sessions


@dataclass(frozen=True)
class UiAuthSession:
    session_id: str
    created_ts: int
    operation: str
    user_id: str | None
    completed: list[str]
    data: dict[str, Any]


class UiAuthStore:
    def insert_session(self, conn: Connection, session: UiAuthSession) -> None:
        conn.execute(insert(ui_auth_sessions).values(**session.__dict__))

    def get_session(self, conn: Connection, session_id: str, *, for_update: bool = False) -> UiAuthSession | None:
        query = select(ui_auth_sessions).where(ui_auth_sessions.c.session_id == session_id)
        if for_update:
            query = query.with_for_update()
        row = conn.execute(query).mappings().first()
        return UiAuthSession(**row) if row else None

    def update_session(self, conn: Connection, session_id: str, completed: list[str], data: dict[str, Any]) -> None:
        conn.execute(
            update(ui_auth_sessions)
            .where(ui_auth_sessions.c.session_id == session_id)
            .values(completed=completed, data=data)
        )

    def delete_session(self, conn: Connection, session_id: str) -> None:
        conn.execute(delete(ui_auth_sessions).where(ui_auth_sessions.c.session_id == session_id))

    def delete_sessions_created_before(self, conn: Connection, ts: int) -> int:
        return conn.execute(delete(ui_auth_sessions).where(ui_auth_sessions.c.created_ts < ts)).rowcount
