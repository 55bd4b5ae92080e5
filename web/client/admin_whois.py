"""``GET /admin/whois/{userId}`` (Client-Server API, "Server Administration"): where a user's devices were last
seen from.

A server admin may ask about anyone, any user about themselves (as Synapse); others get 403. Each device reports
one session holding its last connection (address, time, user agent) as recorded on its authenticated requests
(``web/auth.py``); a device never used since its login reports its login's connection, one never seen none.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from persistence.stores.devices import Device
from protocol.errors import Forbidden, InvalidParam
from protocol.identifiers import is_valid_user_id
from web.auth import authenticate
from web.deps import deps
from web.routing import client_route


def whois(user_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    if not is_valid_user_id(user_id):
        raise InvalidParam(f"{user_id!r} is not a valid user id")
    with current.database.read() as conn:
        if requester.user_id != user_id:
            asker = current.stores.users.get_user(conn, requester.user_id)
            if asker is None or not asker.admin:
                raise Forbidden("You are not a server admin")
        devices = current.stores.devices.list_devices(conn, user_id)
    return {"user_id": user_id,
            "devices": {device.device_id: {"sessions": [{"connections": _connections(device)}]}
                        for device in devices}}


def _connections(device: Device) -> list[dict[str, Any]]:
    if device.last_seen_ts is None:
        return []
    return [{"ip": device.last_seen_ip, "last_seen": device.last_seen_ts,
             "user_agent": device.last_seen_user_agent}]


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/admin/whois/<user_id>", methods=["GET"])(whois)
