"""Account registration (Client-Server API, "Account registration and management")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, request

from protocol.errors import Forbidden, GuestAccessForbidden, InvalidParam, MissingParam, UserInUse
from protocol.identifiers import UserId, check_new_localpart
from web.accounts.appservice_accounts import (
    APPSERVICE_LOGIN,
    check_not_exclusive_user,
    check_user_for_appservice,
    requesting_appservice,
)
from web.accounts.effects import AfterCommit
from web.accounts.passwords import MAX_PASSWORD_LENGTH, PasswordHasher
from web.accounts.registration import create_account, generate_numeric_localpart
from web.accounts.sessions import start_session
from web.accounts.tokens import hash_token
from web.accounts.ui_auth import (
    DUMMY,
    REGISTRATION_TOKEN,
    AuthRequired,
    check_ui_auth,
    continued_session,
    finish_ui_auth,
    remember_in_session,
)
from web.deps import Deps, deps
from web.ratelimit import check_rate_limit
from web.requests import Body, client_ip, json_body, required_query_text
from web.routing import client_route

PASSWORD_HASH = "password_hash"
PARAMS = "params"
REGISTERED_USER_ID = "registered_user_id"
"""UIA session data of a registration: the first request's parameters (the password only as its hash), and once
the account exists, its user id."""


def register() -> dict[str, Any]:
    current = deps()
    kind = request.args.get("kind", "user")
    if kind not in ("user", "guest"):
        raise InvalidParam("Invalid kind: must be 'user' or 'guest'")
    body = json_body()
    if kind == "user" and body.data.get("type") == APPSERVICE_LOGIN:
        return _register_for_appservice(current, body)
    check_rate_limit(current, "rc_registration", client_ip())
    if kind == "guest":
        return _register_guest(current, body)
    if not current.config.registration.enable_registration:
        raise Forbidden("Registration has been disabled")
    continued = continued_session(current, body)
    remembered = continued.data if continued is not None else {}
    params = _request_params(body, remembered)
    login = LoginRequest.parse(params)
    if remembered.get(REGISTERED_USER_ID):
        # A retry of a registration that succeeded: answer for the account it made, as Synapse does, so a client
        # that lost the first answer still gets in.
        return _log_in(current, str(remembered[REGISTERED_USER_ID]), login)

    username = params.text("username", None, max_length=255)
    password = params.text("password", None, max_length=MAX_PASSWORD_LENGTH)
    guest_token = params.text("guest_access_token", None, max_length=512)
    hasher = PasswordHasher(current.config.passwords)
    guest = _guest_to_upgrade(current, guest_token, username) if guest_token is not None else None
    localpart = None
    if guest is not None:
        localpart = UserId.parse(guest).localpart
    elif username is not None:
        # Synapse lower-cases requested usernames before checking them.
        localpart = username.lower()
        check_new_localpart(localpart, current.config.server_name)
        check_not_exclusive_user(current, f"@{localpart}:{current.config.server_name}")
        _check_available(current, localpart)
    if password is not None:
        hasher.check_policy(password)

    flows = [[REGISTRATION_TOKEN]] if current.config.registration.registration_requires_token else [[DUMMY]]
    try:
        authorised = check_ui_auth(current, body, operation="POST /register", flows=flows, user_id=None)
    except AuthRequired as required:
        # Clients may send the parameters only with the first request, as Synapse allows: keep them for the
        # request that completes the flow, the password as its hash only.
        kept: dict[str, Any] = {PARAMS: {key: value for key, value in params.data.items() if key != "password"}}
        if password is not None:
            kept[PASSWORD_HASH] = hasher.hash(password)
        remember_in_session(current, required.session_id, kept)
        raise
    if password is not None:
        password_hash = hasher.hash(password)
    elif authorised.data.get(PASSWORD_HASH):
        password_hash = str(authorised.data[PASSWORD_HASH])
    else:
        raise MissingParam("Missing parameter: password")

    effects = AfterCommit()
    with current.database.write() as conn:
        if guest is not None:
            user_id = guest
            if not current.stores.users.update_guest_to_full_account(conn, user_id, password_hash):
                raise UserInUse("User ID already taken.")
            # The guest's tokens end with the guest: the account signs in afresh below.
            effects.revoked_tokens.extend(current.stores.tokens.delete_tokens_for_user(conn, user_id))
            effects.directory_changed(current, conn, user_id)
        else:
            user_id = _new_user_id(current, conn, localpart)
            create_account(current, conn, effects, user_id, password_hash=password_hash)
        finish_ui_auth(current, conn, authorised, {REGISTERED_USER_ID: user_id})
    effects.apply(current)
    return _log_in(current, user_id, login)


def _register_for_appservice(current: Deps, body: Body) -> dict[str, Any]:
    """An appservice registers a user of its namespace: its as_token instead of user-interactive auth, no
    password (Application Service API, "Using /register")."""
    service = requesting_appservice(current)
    login = LoginRequest.parse(body)
    username = body.text("username", max_length=255)
    localpart = username.lower()
    check_new_localpart(localpart, current.config.server_name)
    user_id = f"@{localpart}:{current.config.server_name}"
    check_user_for_appservice(current, service, user_id)
    effects = AfterCommit()
    with current.database.write() as conn:
        create_account(current, conn, effects, user_id, password_hash=None)
    effects.apply(current)
    return _log_in(current, user_id, login)


def _request_params(body: Body, remembered: dict[str, Any]) -> Body:
    """What this request asks for: its own body, or when it sends nothing but ``auth``, what the session's first
    request sent (Synapse's rule)."""
    given = {key: value for key, value in body.data.items() if key != "auth"}
    if not given and isinstance(remembered.get(PARAMS), dict):
        return Body(dict(remembered[PARAMS]))
    return Body(given)


@dataclass(frozen=True)
class LoginRequest:
    """How the client wants to be signed in once registered, read (and refused if malformed) before anything
    is created."""

    device_id: str | None
    display_name: str | None
    want_refresh_token: bool
    inhibit_login: bool

    @staticmethod
    def parse(params: Body) -> LoginRequest:
        return LoginRequest(params.text("device_id", None, max_length=255),
                            params.text("initial_device_display_name", None, max_length=512),
                            params.flag("refresh_token", False), params.flag("inhibit_login", False))


def _log_in(current: Deps, user_id: str, login: LoginRequest) -> dict[str, Any]:
    """The answer to a registration of ``user_id``: a new device and its tokens, or with ``inhibit_login`` just
    the user id (spec: no ``access_token`` nor ``device_id`` then)."""
    if login.inhibit_login:
        return {"user_id": user_id, "home_server": current.config.server_name}
    effects = AfterCommit()
    with current.database.write() as conn:
        session = start_session(current, conn, effects, user_id, device_id=login.device_id,
                                display_name=login.display_name, want_refresh_token=login.want_refresh_token,
                                ip=client_ip())
    effects.apply(current)
    return session.to_response(current.config.server_name)


def _guest_to_upgrade(current: Deps, guest_token: str, username: str | None) -> str:
    """The guest account ``guest_access_token`` belongs to, which this registration makes a full account (spec:
    "Guest access"); 403 unless it is a guest's and names the requested user, as Synapse."""
    with current.database.read() as conn:
        token = current.stores.tokens.get_access_token(conn, hash_token(guest_token))
        user = current.stores.users.get_user(conn, token.user_id) if token else None
    if user is None or not user.is_guest or user.deactivated:
        raise Forbidden("The guest access token does not belong to a guest account")
    if username is not None and username.lower() != UserId.parse(user.user_id).localpart:
        raise Forbidden("Cannot register taken user ID without valid guest credentials for that user")
    return user.user_id


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
    check_not_exclusive_user(current, f"@{localpart}:{current.config.server_name}")
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
