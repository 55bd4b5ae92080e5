"""Shared-secret registration: ``GET``/``POST /_synapse/admin/v1/register``, as Synapse's
``register_new_matrix_user`` speaks it: a single-use nonce, then an HMAC-SHA1 over
``nonce NUL username NUL password NUL admin|notadmin [NUL user_type]`` keyed with ``registration_shared_secret``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from flask import Blueprint

from protocol.errors import Forbidden, MatrixError
from protocol.identifiers import check_new_localpart
from web.accounts.effects import AfterCommit
from web.accounts.passwords import MAX_PASSWORD_LENGTH, PasswordHasher
from web.accounts.registration import create_account
from web.accounts.sessions import start_session
from web.deps import Deps, deps
from web.ratelimit import check_rate_limit
from web.requests import client_ip, json_body

NONCE_LIFETIME_MS = 60_000
USER_TYPES = (None, "support", "bot")


def _secret(current: Deps) -> str:
    secret = current.config.registration.registration_shared_secret
    if not secret:
        raise MatrixError("Shared secret registration is not enabled", status=400)
    return secret


def get_nonce() -> dict[str, Any]:
    current = deps()
    _secret(current)
    nonce = secrets.token_hex(32)
    with current.database.write() as conn:
        current.stores.admin_nonces.insert_nonce(conn, nonce, current.clock.now_ms())
    return {"nonce": nonce}


def expected_mac(secret: str, nonce: str, username: str, password: str, admin: bool, user_type: str | None) -> str:
    mac = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha1)
    parts = [nonce, username, password, "admin" if admin else "notadmin"] + ([user_type] if user_type else [])
    mac.update(b"\x00".join(part.encode("utf-8") for part in parts))
    return mac.hexdigest()


def register_with_shared_secret() -> dict[str, Any]:
    current = deps()
    secret = _secret(current)
    check_rate_limit(current, "rc_registration", client_ip())
    body = json_body()
    nonce = body.text("nonce", max_length=128)
    username = body.text("username", max_length=255)
    password = body.text("password", max_length=MAX_PASSWORD_LENGTH)
    admin = body.flag("admin", False)
    user_type = body.text("user_type", None, max_length=32)
    displayname = body.text("displayname", None, max_length=256)
    mac = body.text("mac", max_length=128)
    if user_type not in USER_TYPES:
        raise MatrixError("Invalid user type", status=400)
    localpart = username.lower()
    check_new_localpart(localpart, current.config.server_name)
    if not hmac.compare_digest(mac, expected_mac(secret, nonce, username, password, admin, user_type)):
        raise Forbidden("HMAC incorrect")
    password_hash = PasswordHasher(current.config.passwords).hash(password)

    effects = AfterCommit()
    user_id = f"@{localpart}:{current.config.server_name}"
    with current.database.write() as conn:
        if not current.stores.admin_nonces.delete_nonce(conn, nonce, current.clock.now_ms() - NONCE_LIFETIME_MS):
            raise MatrixError("unrecognised nonce", status=400)
        create_account(current, conn, effects, user_id, password_hash=password_hash, admin=admin,
                       user_type=user_type, displayname=displayname)
        session = start_session(current, conn, effects, user_id, device_id=None, display_name=None,
                                want_refresh_token=False, ip=client_ip())
    effects.apply(current)
    return session.to_response(current.config.server_name)


def register_routes(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/_synapse/admin/v1/register", view_func=get_nonce, methods=["GET"])
    blueprint.add_url_rule("/_synapse/admin/v1/register", view_func=register_with_shared_secret, methods=["POST"])
