"""Login, token refresh and logout (Client-Server API, "Login", "Refreshing access tokens", "Logout")."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from protocol.errors import Forbidden, MatrixError, UnknownToken, UserDeactivated
from web.accounts.appservice_accounts import APPSERVICE_LOGIN, check_user_login, requesting_appservice
from web.accounts.effects import AfterCommit
from web.accounts.login_identifiers import resolve_password_login_user
from web.accounts.passwords import MAX_PASSWORD_LENGTH, PasswordHasher
from web.accounts.sessions import end_sessions, issue_tokens, start_session
from web.accounts.tokens import hash_token
from web.auth import authenticate
from web.deps import Deps, deps
from web.ratelimit import check_rate_limit
from web.requests import Body, client_ip, json_body
from web.routing import client_route

PASSWORD_LOGIN = "m.login.password"


def get_login_flows() -> dict[str, Any]:
    passwords = deps().config.passwords
    flows = [{"type": PASSWORD_LOGIN}] if passwords.enabled and passwords.localdb_enabled else []
    if deps().config.appservices:
        flows.append({"type": APPSERVICE_LOGIN})
    return {"flows": flows}


def login() -> dict[str, Any]:
    current = deps()
    check_rate_limit(current, "rc_login.address", client_ip())
    body = json_body()
    login_type = body.text("type")
    if login_type == APPSERVICE_LOGIN:
        return _log_in_for_appservice(current, body)
    if login_type != PASSWORD_LOGIN or not current.config.passwords.enabled:
        raise MatrixError(f"Unknown login type {login_type}", status=400)
    password = body.text("password", max_length=MAX_PASSWORD_LENGTH)
    device_id = body.text("device_id", None, max_length=255)
    display_name = body.text("initial_device_display_name", None, max_length=512)
    want_refresh = body.flag("refresh_token", False)

    with current.database.read() as conn:
        user_id = resolve_password_login_user(current, conn, body)
        user = current.stores.users.get_user(conn, user_id) if user_id else None
    attempt_key = user_id or "unknown"
    check_rate_limit(current, "rc_login.account", attempt_key)
    hasher = PasswordHasher(current.config.passwords)
    if user is None or not hasher.verify(password, user.password_hash):
        check_rate_limit(current, "rc_login.failed_attempts", attempt_key)
        raise Forbidden("Invalid username or password")
    if user.deactivated:
        raise UserDeactivated("This account has been deactivated")

    effects = AfterCommit()
    with current.database.write() as conn:
        session = start_session(
            current, conn, effects, user.user_id, device_id=device_id, display_name=display_name,
            want_refresh_token=want_refresh, ip=client_ip(),
        )
    effects.apply(current)
    return session.to_response(current.config.server_name)


def _log_in_for_appservice(current: Deps, body: Body) -> dict[str, Any]:
    """``m.login.application_service``: an appservice signs in as one of its users with its as_token."""
    service = requesting_appservice(current)
    with current.database.read() as conn:
        user_id = check_user_login(current, service, resolve_password_login_user(current, conn, body))
        user = current.stores.users.get_user(conn, user_id)
    if user is None:
        raise Forbidden("Invalid username")
    if user.deactivated:
        raise UserDeactivated("This account has been deactivated")
    effects = AfterCommit()
    with current.database.write() as conn:
        session = start_session(
            current, conn, effects, user_id, device_id=body.text("device_id", None, max_length=255),
            display_name=body.text("initial_device_display_name", None, max_length=512),
            want_refresh_token=body.flag("refresh_token", False), ip=client_ip(),
        )
    effects.apply(current)
    return session.to_response(current.config.server_name)


def refresh() -> dict[str, Any]:
    """Exchange a refresh token for a new pair; the old one stays valid until the new pair is used."""
    current = deps()
    body = json_body()
    token_hash = hash_token(body.text("refresh_token", max_length=1024))
    effects = AfterCommit()
    with current.database.write() as conn:
        stored = current.stores.tokens.get_refresh_token(conn, token_hash)
        if stored is None:
            raise UnknownToken("Unknown refresh token")
        now = current.clock.now_ms()
        if stored.expiry_ts is not None and stored.expiry_ts < now:
            raise UnknownToken("Refresh token has expired", soft_logout=True)
        tokens = current.stores.tokens
        # Using this token retires the one it replaced; and a retry after an exchange whose pair was never
        # used replaces that pair instead of leaving it valid beside the new one.
        effects.revoked_tokens.extend(tokens.delete_predecessors(conn, stored.id))
        if stored.next_token_id is not None:
            effects.revoked_tokens.extend(tokens.delete_refresh_token(conn, stored.next_token_id))
        session = issue_tokens(
            current, conn, stored.user_id, stored.device_id, want_refresh_token=True,
            session_expiry_ts=stored.session_expiry_ts,
        )
        assert session.refresh_token_id is not None
        tokens.update_next_refresh_token(conn, stored.id, session.refresh_token_id)
    effects.apply(current)
    response: dict[str, Any] = {"access_token": session.access_token, "refresh_token": session.refresh_token}
    if session.expires_in_ms is not None:
        response["expires_in_ms"] = session.expires_in_ms
    return response


def logout() -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    effects = AfterCommit()
    with current.database.write() as conn:
        end_sessions(current, conn, effects, requester.user_id, [requester.device_id])
    effects.apply(current)
    return {}


def logout_all() -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    effects = AfterCommit()
    with current.database.write() as conn:
        device_ids = [device.device_id for device in current.stores.devices.list_devices(conn, requester.user_id)]
        end_sessions(current, conn, effects, requester.user_id, device_ids)
    effects.apply(current)
    return {}


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/login", methods=["GET"])(get_login_flows)
    client_route(blueprint, "/login", methods=["POST"])(login)
    client_route(blueprint, "/refresh", methods=["POST"], versions=("v1", "v3"))(refresh)
    client_route(blueprint, "/logout", methods=["POST"])(logout)
    client_route(blueprint, "/logout/all", methods=["POST"])(logout_all)
