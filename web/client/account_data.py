"""Account data and room tags (Client-Server API, "Client Config", "Room Tagging"): a user's own settings,
global or per room, written by their account_data stream writer and read back here or through ``/sync``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from persistence.stores.account_data import GLOBAL
from protocol.errors import BadJson, Forbidden, InvalidParam, MatrixError, NotFound
from tasks import api as tasks_api
from web.auth import authenticate
from web.deps import deps
from web.requests import json_body
from web.routing import client_route

SERVER_MANAGED = ("m.fully_read", "m.push_rules")
"""Types a client reads but may only change through their own APIs (read markers, push rules)."""
MAX_TYPE_LENGTH = 255
TAG_TYPE = "m.tag"
PUSH_RULES_TYPE = "m.push_rules"


class ServerManaged(MatrixError):
    errcode = "M_BAD_JSON"
    status = 405


def _owner(user_id: str) -> str:
    requester = authenticate(deps(), allow_guest=True)
    if requester.user_id != user_id:
        raise Forbidden("Cannot access account data of other users")
    return user_id


def _room(room_id: str) -> str:
    if not room_id.startswith("!") or len(room_id.encode("utf-8")) > MAX_TYPE_LENGTH:
        raise InvalidParam(f"{room_id!r} is not a room id")
    return room_id


def _put(user_id: str, room_id: str, event_type: str) -> dict[str, Any]:
    _owner(user_id)
    if len(event_type) > MAX_TYPE_LENGTH:
        raise InvalidParam("Account data type too long")
    content = json_body().data
    if event_type in SERVER_MANAGED:
        raise ServerManaged(f"Cannot set {event_type} through this API")
    tasks_api.put_account_data(deps().dispatcher, user_id=user_id, room_id=room_id, event_type=event_type,
                               content=content)
    return {}


def _get(user_id: str, room_id: str, event_type: str) -> dict[str, Any]:
    _owner(user_id)
    current = deps()
    with current.database.read() as conn:
        if (room_id, event_type) == (GLOBAL, PUSH_RULES_TYPE):  # readable as normal (spec: "Server Behaviour")
            return {"global": current.push_rules.ruleset(conn, user_id).to_client()}
        content = current.stores.account_data.get_account_data(conn, user_id, room_id, event_type)
    if content is None:
        raise NotFound("Account data not found")
    return content


def set_account_data(user_id: str, event_type: str) -> dict[str, Any]:
    return _put(user_id, GLOBAL, event_type)


def get_account_data(user_id: str, event_type: str) -> dict[str, Any]:
    return _get(user_id, GLOBAL, event_type)


def set_room_account_data(user_id: str, room_id: str, event_type: str) -> dict[str, Any]:
    return _put(user_id, _room(room_id), event_type)


def get_room_account_data(user_id: str, room_id: str, event_type: str) -> dict[str, Any]:
    return _get(user_id, _room(room_id), event_type)


def get_room_tags(user_id: str, room_id: str) -> dict[str, Any]:
    _owner(user_id)
    current = deps()
    with current.database.read() as conn:
        content = current.stores.account_data.get_account_data(conn, user_id, _room(room_id), TAG_TYPE) or {}
    tags = content.get("tags")
    return {"tags": tags if isinstance(tags, dict) else {}}


def set_room_tag(user_id: str, room_id: str, tag: str) -> dict[str, Any]:
    _owner(user_id)
    if len(tag) > MAX_TYPE_LENGTH:
        raise InvalidParam("Tag too long")
    body = json_body().data
    order = body.get("order")
    if order is not None and (isinstance(order, bool) or not isinstance(order, int | float)):
        raise BadJson("'order' must be a number")
    tasks_api.update_tag(deps().dispatcher, user_id=user_id, room_id=_room(room_id), tag=tag, content=body)
    return {}


def delete_room_tag(user_id: str, room_id: str, tag: str) -> dict[str, Any]:
    _owner(user_id)
    tasks_api.update_tag(deps().dispatcher, user_id=user_id, room_id=_room(room_id), tag=tag, content=None)
    return {}


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/user/<user_id>/account_data/<event_type>", methods=["PUT"])(set_account_data)
    client_route(blueprint, "/user/<user_id>/account_data/<event_type>", methods=["GET"])(get_account_data)
    client_route(blueprint, "/user/<user_id>/rooms/<room_id>/account_data/<event_type>",
                 methods=["PUT"])(set_room_account_data)
    client_route(blueprint, "/user/<user_id>/rooms/<room_id>/account_data/<event_type>",
                 methods=["GET"])(get_room_account_data)
    client_route(blueprint, "/user/<user_id>/rooms/<room_id>/tags", methods=["GET"])(get_room_tags)
    client_route(blueprint, "/user/<user_id>/rooms/<room_id>/tags/<tag>", methods=["PUT"])(set_room_tag)
    client_route(blueprint, "/user/<user_id>/rooms/<room_id>/tags/<tag>", methods=["DELETE"])(delete_room_tag)
