"""Application services' room lists (Application Service API, "Room directory": ``PUT/DELETE
/_matrix/client/v3/directory/list/appservice/{networkId}/{roomId}``).

A bridge lists rooms under one of its networks, apart from the server's main directory; ``POST /publicRooms``
shows them with ``third_party_instance_id`` ``{appservice_id}|{networkId}`` or ``include_all_networks``
(``web/client/directory.py``). Only an application service's own token may change its lists.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from protocol.errors import Forbidden, InvalidParam, NotFound
from web.auth import authenticate
from web.deps import Deps, deps
from web.requests import json_body
from web.routing import client_route
from web.token_cache import Requester


def _appservice_id(current: Deps, requester: Requester) -> str:
    if requester.appservice_id is None:
        raise Forbidden("Only application services can edit their room lists")
    return requester.appservice_id


def _check_room(current: Deps, room_id: str) -> None:
    with current.database.read() as conn:
        if current.stores.rooms.get_room(conn, room_id) is None:
            raise NotFound("Room not found")


def set_network_room_visibility(network_id: str, room_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    visibility = json_body().text("visibility", max_length=16)
    if visibility not in ("public", "private"):
        raise InvalidParam("'visibility' must be 'public' or 'private'")
    appservice_id = _appservice_id(current, requester)
    _check_room(current, room_id)
    with current.database.write() as conn:
        if visibility == "public":
            current.stores.directory.insert_network_room(conn, appservice_id, network_id, room_id)
        else:
            current.stores.directory.delete_network_room(conn, appservice_id, network_id, room_id)
    return {}


def delete_network_room(network_id: str, room_id: str) -> dict[str, Any]:
    current = deps()
    appservice_id = _appservice_id(current, authenticate(current))
    with current.database.write() as conn:
        current.stores.directory.delete_network_room(conn, appservice_id, network_id, room_id)
    return {}


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/directory/list/appservice/<network_id>/<room_id>",
                 methods=["PUT"])(set_network_room_visibility)
    client_route(blueprint, "/directory/list/appservice/<network_id>/<room_id>",
                 methods=["DELETE"])(delete_network_room)
