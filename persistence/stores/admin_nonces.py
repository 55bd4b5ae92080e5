"""Single-use nonces for Synapse-compatible shared-secret registration (``/_synapse/admin/v1/register``)."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert

from persistence.tables import admin_register_nonces


class AdminNonceStore:
    def insert_nonce(self, conn: Connection, nonce: str, created_ts: int) -> None:
        conn.execute(insert(admin_register_nonces).values(nonce=nonce, created_ts=created_ts))

    def delete_nonce(self, conn: Connection, nonce: str, not_before_ts: int) -> bool:
        """Consume a nonce issued at or after ``not_before_ts``; False when unknown, used or expired."""
        result = conn.execute(
            delete(admin_register_nonces).where(
                admin_register_nonces.c.nonce == nonce, admin_register_nonces.c.created_ts >= not_before_ts
            )
        )
        return result.rowcount == 1

    def delete_nonces_created_before(self, conn: Connection, ts: int) -> int:
        return conn.execute(delete(admin_register_nonces).where(admin_register_nonces.c.created_ts < ts)).rowcount
