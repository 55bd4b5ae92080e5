"""The signed-in account: whoami, password change and deactivation (Client-Server API, "Account management")."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from persistence.stores.key_backups import lock_room_keys
from protocol.errors import Forbidden
from web.accounts.effects import AfterCommit
from web.accounts.passwords import MAX_PASSWORD_LENGTH, PasswordHasher
from web.accounts.sessions import end_sessions
from web.accounts.ui_auth import PASSWORD, check_ui_auth, finish_ui_auth
from web.auth import authenticate
from web.deps import deps
from web.requests import json_body
from web.routing import client_route


def get_whoami() -> dict[str, Any]:
    requester = authenticate(deps(), allow_guest=True)
    return {"user_id": requester.user_id, "device_id": requester.device_id, "is_guest": requester.is_guest}


def change_password() -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    passwords = current.config.passwords
    if not (passwords.enabled and passwords.localdb_enabled):
        raise Forbidden("Password changes are disabled on this server")
    body = json_body()
    new_password = body.text("new_password", max_length=MAX_PASSWORD_LENGTH)
    logout_devices = body.flag("logout_devices", True)
    hasher = PasswordHasher(passwords)
    hasher.check_policy(new_password)
    authorised = check_ui_auth(
        current, body, operation="POST /account/password", flows=[[PASSWORD]], user_id=requester.user_id
    )
    password_hash = hasher.hash(new_password)
    effects = AfterCommit()
    with current.database.write() as conn:
        current.stores.users.update_password_hash(conn, requester.user_id, password_hash)
        if logout_devices:
            others = [
                device.device_id
                for device in current.stores.devices.list_devices(conn, requester.user_id)
                if device.device_id != requester.device_id
            ]
            end_sessions(current, conn, effects, requester.user_id, others)
        finish_ui_auth(current, conn, authorised)
    effects.apply(current)
    return {}


def deactivate_account() -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    body = json_body(optional=True)
    erase = body.flag("erase", False)
    body.text("id_server", None)
    # An application service deactivates its users with its as_token alone, as in Synapse: it holds no password.
    authorised = None if requester.appservice_id is not None else check_ui_auth(
        current, body, operation="POST /account/deactivate", flows=[[PASSWORD]], user_id=requester.user_id
    )
    effects = AfterCommit()
    stores = current.stores
    with current.database.write() as conn:
        device_ids = [device.device_id for device in stores.devices.list_devices(conn, requester.user_id)]
        end_sessions(current, conn, effects, requester.user_id, device_ids)
        # Tokens of devices that were already gone still must not outlive the account.
        effects.revoked_tokens.extend(stores.tokens.delete_tokens_for_user(conn, requester.user_id))
        stores.users.update_password_hash(conn, requester.user_id, None)
        stores.users.update_deactivated(conn, requester.user_id, True)
        if erase:  # their events are served redacted from now on to whoever was not in the room to see them
            stores.users.insert_erased(conn, requester.user_id, current.clock.now_ms())
        stores.profiles.delete_profile_fields(conn, requester.user_id)
        lock_room_keys(conn, requester.user_id)
        stores.key_backups.delete_user_backups(conn, requester.user_id)  # encrypted, but no longer anyone's
        stores.pushers.delete_pushers_of_user(conn, requester.user_id)
        effects.directory_changed(current, conn, requester.user_id)
        if authorised is not None:
            finish_ui_auth(current, conn, authorised)
    effects.apply(current)
    return {"id_server_unbind_result": "no-support"}


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/account/whoami", methods=["GET"])(get_whoami)
    client_route(blueprint, "/account/password", methods=["POST"])(change_password)
    client_route(blueprint, "/account/deactivate", methods=["POST"])(deactivate_account)
