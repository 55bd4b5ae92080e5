"""OpenID tokens (Client-Server API, "OpenID"): short-lived proofs of identity a user hands to a third party,
which exchanges them at ``/_matrix/federation/v1/openid/userinfo``. Only their digests are stored."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from persistence.tables import openid_tokens


class OpenIdTokenStore:
    def insert_token(self, conn: Connection, token_digest: str, user_id: str, valid_until_ts: int) -> None:
        conn.execute(insert(openid_tokens).values(token_digest=token_digest, user_id=user_id,
                                                  valid_until_ts=valid_until_ts))

    def get_user(self, conn: Connection, token_digest: str, now_ms: int) -> str | None:
        """The user who asked for the token, while it is valid."""
        row = conn.execute(select(openid_tokens.c.user_id).where(
            openid_tokens.c.token_digest == token_digest, openid_tokens.c.valid_until_ts > now_ms)).one_or_none()
        return None if row is None else str(row.user_id)

    def delete_expired(self, conn: Connection, now_ms: int) -> int:
        return conn.execute(delete(openid_tokens).where(openid_tokens.c.valid_until_ts <= now_ms)).rowcount
