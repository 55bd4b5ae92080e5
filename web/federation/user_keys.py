"""Other servers asking about local users' devices and keys (Server-Server API, "End-to-End Encryption" and
"Device Management"): ``/user/devices/{userId}``, ``/user/keys/query`` and ``/user/keys/claim``. Each answers for
this server's users only; device display names stay private, as with Synapse's default."""

from __future__ import annotations

from typing import Any

from protocol.errors import InvalidParam, NotFound
from protocol.identifiers import UserId
from web.client.key_query import local_keys, parse_wanted
from web.client.keys import claim_local_keys, parse_claims
from web.client.remote_users import split_by_server
from web.deps import deps
from web.federation.auth import server_authenticated
from web.requests import json_body


@server_authenticated
def get_user_devices(user_id: str, *, origin: str) -> dict[str, Any]:
    """Every device of a local user with its keys, the cross-signing keys, and the latest device-list stream id
    (the ``prev_id`` the next ``m.device_list_update`` for the user will name)."""
    current = deps()
    try:
        parsed = UserId.parse(user_id)
    except ValueError:
        raise InvalidParam("Not a valid user ID") from None
    if parsed.server_name != current.config.server_name:
        raise InvalidParam("User is not hosted on this homeserver")
    with current.database.read() as conn:
        if current.stores.users.get_user(conn, user_id) is None:
            raise NotFound("User not found")
        devices = current.stores.devices.list_devices(conn, user_id)
        changes = current.stores.device_lists.list_changes(conn, user_id)
    keys = local_keys(current, {user_id: []}, None)
    by_device = keys["device_keys"].get(user_id, {})
    answer: dict[str, Any] = {
        "user_id": user_id,
        "stream_id": changes[-1].stream_id if changes else 0,
        "devices": [{"device_id": device.device_id, **({"keys": by_device[device.device_id]}
                                                        if device.device_id in by_device else {})}
                    for device in devices],
    }
    if user_id in keys["master_keys"]:
        answer["master_key"] = keys["master_keys"][user_id]
    if user_id in keys["self_signing_keys"]:
        answer["self_signing_key"] = keys["self_signing_keys"][user_id]
    return answer


@server_authenticated
def query_user_keys(*, origin: str) -> dict[str, Any]:
    current = deps()
    local, _ = split_by_server(parse_wanted(json_body()), current.config.server_name)
    return local_keys(current, local, None)


@server_authenticated
def claim_user_keys(*, origin: str) -> dict[str, Any]:
    current = deps()
    local, _ = split_by_server(parse_claims(json_body()), current.config.server_name)
    return {"one_time_keys": claim_local_keys(current, local)}

