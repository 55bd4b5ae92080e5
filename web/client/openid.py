"""``POST /user/{userId}/openid/request_token`` (Client-Server API, "OpenID"): a token a user hands to a third
party (an integration manager, a widget) so it can learn who they are from ``/_matrix/federation/v1/openid/userinfo``
without ever holding the user's access token. Valid for an hour, as Synapse issues them."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint

from protocol.errors import Forbidden
from web.accounts.tokens import hash_token
from web.auth import authenticate
from web.deps import deps
from web.requests import json_body
from web.routing import client_route

TOKEN_LIFETIME_MS = 3_600_000


def request_openid_token(user_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    if requester.user_id != user_id:
        raise Forbidden("You may only request an OpenID token for yourself")
    json_body()  # the body is an empty object, but it must be JSON
    token = secrets.token_urlsafe(32)
    now = current.clock.now_ms()
    with current.database.write() as conn:
        current.stores.openid_tokens.delete_expired(conn, now)
        current.stores.openid_tokens.insert_token(conn, hash_token(token), user_id, now + TOKEN_LIFETIME_MS)
    return {"access_token": token, "token_type": "Bearer", "matrix_server_name": current.config.server_name,
            "expires_in": TOKEN_LIFETIME_MS // 1000}


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/user/<user_id>/openid/request_token", methods=["POST"])(request_openid_token)
