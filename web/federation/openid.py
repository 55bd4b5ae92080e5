"""``GET /_matrix/federation/v1/openid/userinfo`` (Server-Server API, "OpenID"): who an OpenID token belongs
to. Not X-Matrix authenticated: the caller is any third party holding a token from ``request_token``."""

from __future__ import annotations

from typing import Any

from protocol.errors import UnknownToken
from web.accounts.tokens import hash_token
from web.deps import deps
from web.requests import query_text


def get_userinfo() -> dict[str, Any]:
    current = deps()
    token = query_text("access_token", max_length=255)
    if not token:
        raise UnknownToken("Access Token required")
    with current.database.read() as conn:
        user_id = current.stores.openid_tokens.get_user(conn, hash_token(token), current.clock.now_ms())
    if user_id is None:
        raise UnknownToken("Access token unknown or expired")
    return {"sub": user_id}
