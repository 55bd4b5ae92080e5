"""Requests made with an application service's ``as_token`` (Application Service API, "Client-Server API
extensions": "Identity assertion" and MSC4326 device masquerading).

The token acts as the appservice's sender, or as the user named by the ``user_id`` query parameter when that
user is in one of its user namespaces and registered; ``device_id`` (or MSC3202's unstable
``org.matrix.msc3202.device_id``) picks one of that user's existing devices. An appservice's tokens are in its
registration file, not the database, so these requesters never go through the token cache.
"""

from __future__ import annotations

from flask import request

from persistence.stores.users import UserExists
from protocol.appservices import AppService
from protocol.errors import Forbidden, InvalidParam, MatrixError, UnknownDevice
from protocol.identifiers import UserId
from web.accounts.effects import AfterCommit
from web.accounts.registration import create_account
from web.deps import Deps
from web.token_cache import Requester

DEVICE_PARAMS = ("device_id", "org.matrix.msc3202.device_id")


def appservice_requester(deps: Deps, service: AppService, token_hash: str) -> Requester:
    user_id = request.args.get("user_id") or service.sender
    try:
        parsed = UserId.parse(user_id)
    except ValueError:
        raise InvalidParam(f"Invalid user_id: {user_id!r}") from None
    if parsed.server_name != deps.config.server_name or not service.is_interested_in_user(user_id):
        raise Forbidden(f"Application service cannot masquerade as this user ({user_id}).")
    device_id = next((request.args[name] for name in DEVICE_PARAMS if request.args.get(name)), None)
    with deps.database.read() as conn:
        user = deps.stores.users.get_user(conn, user_id)
        has_device = device_id is None or deps.stores.devices.get_device(conn, user_id, device_id) is not None
    if user is None and user_id == service.sender:
        _create_sender(deps, user_id)
    elif user is None or user.deactivated:
        raise Forbidden(f"Application service has not registered this user ({user_id}).")
    if not has_device:
        raise UnknownDevice("Application service trying to use a device that doesn't exist.")
    return Requester(user_id=user_id, device_id=device_id or "", is_guest=False, token_hash=token_hash,
                     valid_until_ts=None, appservice_id=service.id)


def _create_sender(deps: Deps, user_id: str) -> None:
    """The appservice's own user exists from its first request on, as it does in Synapse from the start."""
    effects = AfterCommit()
    try:
        with deps.database.write() as conn:
            create_account(deps, conn, effects, user_id, password_hash=None)
    except (UserExists, MatrixError):
        return  # another request created it first
    effects.apply(deps)
