"""Account registration (Client-Server API, "Account registration and management")."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from protocol.errors import Forbidden, GuestAccessForbidden, InvalidParam, MissingParam, UserInUse
from protocol.identifiers import check_new_localpart
from web.accounts.effects import AfterCommit
from web.accounts.passwords import MAX_PASSWORD_LENGTH, PasswordHasher
from web.accounts.registration import create_account, generate_numeric_localpart
from web.accounts.sessions import start_session
from web.accounts.ui_auth import (
    DUMMY,
    REGISTRATION_TOKEN,
    AuthRequired,
    check_ui_auth,
    finish_ui_auth,
    remember_in_session,
)
from web.deps import Deps, deps
from web.ratelimit import check_rate_limit
from web.requests import Body, client_ip, json_body, required_query_text
from web.routing import client_route

PASSWORD_HASH = "password_hash"


def register() -> dict[str, Any]:
    current = deps()
    kind = request.args.get("kind", "user")
    if kind not in ("user", "guest"):
        raise InvalidParam("Invalid kind: must be 'user' or 'guest'")
    check_rate_limit(current, "rc_registration", client_ip())
    body = json_body()
    if kind == "guest":
        return _register_guest(current, body)
    if not current.config.registration.enable_registration:
        raise Forbidden("Registration has been disabled")

    username = body.text("username", None, max_length=255)
    password = body.text("password", None, max_length=MAX_PASSWORD_LENGTH)
    device_id = body.text("device_id", None, max_length=255)
    display_name = body.text("initial_device_display_name", None, max_length=512)
    inhibit_login = body.flag("inhibit_login", False)
    want_refresh = body.flag("refresh_token", False)
    hasher = PasswordHasher(current.config.passwords)
    localpart = None
    if username is not None:
        # Synapse lower-cases requested usernames before checking them.
        localpart = username.lower()
        check_new_localpart(localpart, current.config.server_name)
        _check_available(current, localpart)
    if password is not None:
        hasher.check_policy(password)

    flows = [[REGISTRATION_TOKEN]] if current.config.registration.registration_requires_token else [[DUMMY]]
    try:
        authorised = check_ui_auth(current, body, operation="POST /register", flows=flows, user_id=None)
    except AuthRequired as required:
        # Some clients send the password only with the first request, as Synapse allows: keep its hash (never the
        # password) in the session for the request that completes the flow.
        if password is not None:
            remember_in_session(current, required.session_id, PASSWORD_HASH, hasher.hash(password))
        raise
    if password is not None:
        password_hash = hasher.hash(password)
    elif authorised.data.get(PASSWORD_HASH):
        password_hash = str(authorised.data[PASSWORD_HASH])
    else:
        raise MissingParam("Missing parameter: password")

    effects = AfterCommit()
    with current.database.write() as conn:
        user_id = _new_user_id(current, conn, localpart)
        create_account(current, conn, effects, user_id, password_hash=password_hash)
        session = None if inhibit_login else start_session(
            current, conn, effects, user_id, device_id=device_id, display_name=display_name,
            want_refresh_token=want_refresh, ip=client_ip(),
        )
        finish_ui_auth(current, conn, authorised)
    effects.apply(current)
    if session is None:
        return {"user_id": user_id, "home_server": current.config.server_name}
    return session.to_response(current.config.server_name)


def _register_guest(current: Deps, body: Body) -> dict[str, Any]:
    if not current.config.registration.allow_guest_access:
        raise GuestAccessForbidden("Guest access is disabled")
    display_name = body.text("initial_device_display_name", None, max_length=512)
    effects = AfterCommit()
    with current.database.write() as conn:
        user_id = _new_user_id(current, conn, None)
        create_account(current, conn, effects, user_id, password_hash=None, is_guest=True)
        session = start_session(
            current, conn, effects, user_id, device_id=None, display_name=display_name,
            want_refresh_token=False, ip=client_ip(),
        )
    effects.apply(current)
    return session.to_response(current.config.server_name)


def _new_user_id(current: Deps, conn: Any, localpart: str | None) -> str:
    server_name = current.config.server_name
    if localpart is not None:
        return f"@{localpart}:{server_name}"
    while True:
        user_id = f"@{generate_numeric_localpart()}:{server_name}"
        if current.stores.users.get_user(conn, user_id) is None:
            return user_id


def _check_available(current: Deps, localpart: str) -> None:
    """M_USER_IN_USE early, unless ``inhibit_user_in_use_error`` hides it until the account is created."""
    if current.config.registration.inhibit_user_in_use_error:
        return
    user_id = f"@{localpart}:{current.config.server_name}"
    with current.database.read() as conn:
        taken = bool(current.stores.users.list_user_ids_case_insensitive(conn, user_id))
    if taken:
        raise UserInUse("User ID already taken.")


def get_username_available() -> dict[str, Any]:
    current = deps()
    if not current.config.registration.enable_registration:
        raise Forbidden("Registration has been disabled")
    check_rate_limit(current, "rc_registration", client_ip())
    username = required_query_text("username", max_length=255)
    localpart = username.lower()
    check_new_localpart(localpart, current.config.server_name)
    _check_available(current, localpart)
    return {"available": True}


def get_registration_token_validity() -> dict[str, Any]:
    current = deps()
    if not current.config.registration.registration_requires_token:
        raise Forbidden("Registration tokens are not enabled")
    check_rate_limit(current, "rc_registration_token_validity", client_ip())
    token = required_query_text("token", max_length=64)
    with current.database.read() as conn:
        stored = current.stores.registration_tokens.get_token(conn, token)
    return {"valid": stored is not None and stored.is_valid(current.clock.now_ms())}


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/register", methods=["POST"])(register)
    client_route(blueprint, "/register/available", methods=["GET"])(get_username_available)
    client_route(blueprint, "/register/m.login.registration_token/validity", methods=["GET"],
                 versions=("v1",))(get_registration_token_validity)
