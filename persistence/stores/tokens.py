"""Access and refresh tokens, stored only as SHA-256 digests of the secret.

Refresh follows the spec's rule (Client-Server API, "Refreshing access tokens"): the old refresh token stays
valid until the new pair is first used, then it and its access tokens are revoked.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update

from persistence.tables import access_tokens, refresh_tokens


@dataclass(frozen=True)
class AccessToken:
    id: int
    user_id: str
    device_id: str
    valid_until_ts: int | None
    refresh_token_id: int | None
    used: bool


@dataclass(frozen=True)
class RefreshToken:
    id: int
    user_id: str
    device_id: str
    expiry_ts: int | None
    session_expiry_ts: int | None
    next_token_id: int | None


class TokenStore:
    def insert_access_token(
        self,
        conn: Connection,
        token_hash: str,
        user_id: str,
        device_id: str,
        created_ts: int,
        valid_until_ts: int | None,
        refresh_token_id: int | None,
    ) -> int:
        result = conn.execute(
            insert(access_tokens)
            .values(
                token_hash=token_hash, user_id=user_id, device_id=device_id, created_ts=created_ts,
                valid_until_ts=valid_until_ts, refresh_token_id=refresh_token_id, used=False,
            )
            .returning(access_tokens.c.id)
        )
        return int(result.scalar_one())

    def get_access_token(self, conn: Connection, token_hash: str) -> AccessToken | None:
        row = conn.execute(
            select(
                access_tokens.c.id, access_tokens.c.user_id, access_tokens.c.device_id,
                access_tokens.c.valid_until_ts, access_tokens.c.refresh_token_id, access_tokens.c.used,
            ).where(access_tokens.c.token_hash == token_hash)
        ).mappings().first()
        return AccessToken(**row) if row else None

    def update_access_token_used(self, conn: Connection, token_id: int) -> None:
        conn.execute(update(access_tokens).where(access_tokens.c.id == token_id).values(used=True))

    def delete_tokens_for_devices(self, conn: Connection, user_id: str, device_ids: list[str]) -> list[str]:
        """Revoke every access and refresh token of these devices; returns the revoked access-token digests."""
        hashes = [
            row.token_hash
            for row in conn.execute(
                select(access_tokens.c.token_hash).where(
                    access_tokens.c.user_id == user_id, access_tokens.c.device_id.in_(device_ids)
                )
            )
        ]
        conn.execute(
            delete(access_tokens).where(access_tokens.c.user_id == user_id, access_tokens.c.device_id.in_(device_ids))
        )
        conn.execute(
            delete(refresh_tokens).where(
                refresh_tokens.c.user_id == user_id, refresh_tokens.c.device_id.in_(device_ids)
            )
        )
        return hashes

    def delete_tokens_for_user(self, conn: Connection, user_id: str) -> list[str]:
        """Revoke every token the user holds, on any device; returns the access-token digests."""
        hashes = [
            row.token_hash
            for row in conn.execute(select(access_tokens.c.token_hash).where(access_tokens.c.user_id == user_id))
        ]
        conn.execute(delete(access_tokens).where(access_tokens.c.user_id == user_id))
        conn.execute(delete(refresh_tokens).where(refresh_tokens.c.user_id == user_id))
        return hashes

    def insert_refresh_token(
        self,
        conn: Connection,
        token_hash: str,
        user_id: str,
        device_id: str,
        expiry_ts: int | None,
        session_expiry_ts: int | None,
    ) -> int:
        result = conn.execute(
            insert(refresh_tokens)
            .values(
                token_hash=token_hash, user_id=user_id, device_id=device_id, expiry_ts=expiry_ts,
                session_expiry_ts=session_expiry_ts, next_token_id=None,
            )
            .returning(refresh_tokens.c.id)
        )
        return int(result.scalar_one())

    def get_refresh_token(self, conn: Connection, token_hash: str) -> RefreshToken | None:
        row = conn.execute(
            select(
                refresh_tokens.c.id, refresh_tokens.c.user_id, refresh_tokens.c.device_id,
                refresh_tokens.c.expiry_ts, refresh_tokens.c.session_expiry_ts, refresh_tokens.c.next_token_id,
            ).where(refresh_tokens.c.token_hash == token_hash)
        ).mappings().first()
        return RefreshToken(**row) if row else None

    def update_next_refresh_token(self, conn: Connection, token_id: int, next_token_id: int) -> None:
        conn.execute(update(refresh_tokens).where(refresh_tokens.c.id == token_id).values(next_token_id=next_token_id))

    def delete_predecessors(self, conn: Connection, refresh_token_id: int) -> list[str]:
        """Revoke the refresh token(s) replaced by ``refresh_token_id`` and their access tokens."""
        old_ids = [
            row.id
            for row in conn.execute(
                select(refresh_tokens.c.id).where(refresh_tokens.c.next_token_id == refresh_token_id)
            )
        ]
        return self._delete_refresh_tokens(conn, old_ids)

    def delete_refresh_token(self, conn: Connection, refresh_token_id: int) -> list[str]:
        """Revoke one refresh token and the access tokens issued with it; returns their digests."""
        return self._delete_refresh_tokens(conn, [refresh_token_id])

    def _delete_refresh_tokens(self, conn: Connection, old_ids: list[int]) -> list[str]:
        if not old_ids:
            return []
        hashes = [
            row.token_hash
            for row in conn.execute(
                select(access_tokens.c.token_hash).where(access_tokens.c.refresh_token_id.in_(old_ids))
            )
        ]
        conn.execute(delete(access_tokens).where(access_tokens.c.refresh_token_id.in_(old_ids)))
        conn.execute(delete(refresh_tokens).where(refresh_tokens.c.id.in_(old_ids)))
        return hashes

    def delete_expired(self, conn: Connection, *, access_before: int, refresh_before: int) -> None:
        conn.execute(delete(access_tokens).where(access_tokens.c.valid_until_ts < access_before))
        conn.execute(delete(refresh_tokens).where(refresh_tokens.c.expiry_ts < refresh_before))
