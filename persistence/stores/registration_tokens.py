"""Registration tokens (spec: ``m.login.registration_token``), counted as Synapse does.

A token's use is *pending* from the moment a registration flow accepts it until the account is created, then
*completed*; ``uses_allowed`` bounds pending + completed, so a flood of half-finished flows cannot overspend it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from persistence.tables import registration_tokens


@dataclass(frozen=True)
class RegistrationToken:
    token: str
    uses_allowed: int | None
    pending: int
    completed: int
    expiry_time: int | None

    def is_valid(self, now_ms: int) -> bool:
        if self.expiry_time is not None and self.expiry_time < now_ms:
            return False
        return self.uses_allowed is None or self.pending + self.completed < self.uses_allowed


class RegistrationTokenStore:
    def insert_token(self, conn: Connection, token: RegistrationToken) -> None:
        conn.execute(insert(registration_tokens).values(**token.__dict__))

    def get_token(self, conn: Connection, token: str, *, for_update: bool = False) -> RegistrationToken | None:
        query = select(registration_tokens).where(registration_tokens.c.token == token)
        if for_update:
            query = query.with_for_update()
        row = conn.execute(query).mappings().first()
        return RegistrationToken(**row) if row else None

    def update_pending(self, conn: Connection, token: str, delta: int) -> None:
        conn.execute(
            update(registration_tokens)
            .where(registration_tokens.c.token == token)
            .values(pending=registration_tokens.c.pending + delta)
        )

    def update_completed_from_pending(self, conn: Connection, token: str) -> None:
        conn.execute(
            update(registration_tokens)
            .where(registration_tokens.c.token == token)
            .values(pending=registration_tokens.c.pending - 1, completed=registration_tokens.c.completed + 1)
        )
