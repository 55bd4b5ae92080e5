"""Device management (Client-Server API, "Device management")."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from persistence.stores.devices import Device
from protocol.errors import BadJson, NotFound
from web.accounts.effects import AfterCommit
from web.accounts.sessions import end_sessions
from web.accounts.ui_auth import PASSWORD, check_ui_auth, finish_ui_auth
from web.auth import authenticate
from web.deps import deps
from web.requests import json_body
from web.routing import client_route

MAX_DEVICE_ID_LENGTH = 255
MAX_DISPLAY_NAME_LENGTH = 100


def _device_json(device: Device) -> dict[str, Any]:
    body: dict[str, Any] = {"device_id": device.device_id, "display_name": device.display_name}
    if device.last_seen_ts is not None:
        body["last_seen_ts"] = device.last_seen_ts
    if device.last_seen_ip is not None:
        body["last_seen_ip"] = device.last_seen_ip
    return body


def list_devices() -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    with current.database.read() as conn:
        devices = current.stores.devices.list_devices(conn, requester.user_id)
    return {"devices": [_device_json(device) for device in devices]}


def get_device(device_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    with current.database.read() as conn:
        device = current.stores.devices.get_device(conn, requester.user_id, device_id)
    if device is None:
        raise NotFound("No device found")
    return _device_json(device)


def update_device(device_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    body = json_body()
    display_name = body.text("display_name", None, max_length=MAX_DISPLAY_NAME_LENGTH)
    effects = AfterCommit()
    with current.database.write() as conn:
        if not current.stores.devices.update_display_name(conn, requester.user_id, device_id, display_name):
            raise NotFound("No device found")
        effects.device_changed(current, conn, requester.user_id, device_id)
    effects.apply(current)
    return {}


def _delete_devices(device_ids: list[str], operation: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    body = json_body(optional=True)
    authorised = check_ui_auth(current, body, operation=operation, flows=[[PASSWORD]], user_id=requester.user_id)
    effects = AfterCommit()
    with current.database.write() as conn:
        end_sessions(current, conn, effects, requester.user_id, device_ids)
        finish_ui_auth(current, conn, authorised)
    effects.apply(current)
    return {}


def delete_device(device_id: str) -> dict[str, Any]:
    return _delete_devices([device_id], f"DELETE /devices/{device_id}")


def delete_devices() -> dict[str, Any]:
    body = json_body()
    device_ids = body.texts("devices")
    if any(len(device_id) > MAX_DEVICE_ID_LENGTH for device_id in device_ids):
        raise BadJson("Device IDs are at most 255 characters")
    return _delete_devices(sorted(set(device_ids)), "POST /delete_devices " + ",".join(sorted(set(device_ids))))


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/devices", methods=["GET"])(list_devices)
    client_route(blueprint, "/devices/<device_id>", methods=["GET"])(get_device)
    client_route(blueprint, "/devices/<device_id>", methods=["PUT"])(update_device)
    client_route(blueprint, "/devices/<device_id>", methods=["DELETE"])(delete_device)
    client_route(blueprint, "/delete_devices", methods=["POST"])(delete_devices)
