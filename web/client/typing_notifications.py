"""``PUT /rooms/{roomId}/typing/{userId}`` (Client-Server API, "Typing Notifications"): a user says they are
typing, or have stopped. Only for oneself, only in a room one is joined to (403 otherwise, as Synapse answers);
the room's typing writer records it and ``/sync`` sends the room's typers as an ``m.typing`` ephemeral event."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from protocol.errors import Forbidden, InvalidParam
from tasks import api as tasks_api
from web.auth import authenticate
from web.deps import Deps, deps
from web.requests import json_body
from web.routing import client_route

DEFAULT_TIMEOUT_MS = 30_000
MAX_TIMEOUT_MS = 120_000
"""Synapse's ceiling on ``timeout``, so nobody is shown typing for hours by one request."""


def _require_member(current: Deps, room_id: str, user_id: str) -> None:
    """403 unless ``user_id`` is joined to ``room_id`` now (an unknown room included, as Synapse answers)."""
    with current.database.read() as conn:
        found = current.stores.state.get_membership(conn, room_id, user_id)
    if found is None or found[0] != "join":
        raise Forbidden(f"User {user_id} not in room {room_id}")


def set_typing(room_id: str, user_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    if requester.user_id != user_id:
        raise Forbidden("Cannot set another user's typing state")
    body = json_body()
    typing = body.flag("typing")
    timeout = body.integer("timeout", DEFAULT_TIMEOUT_MS)
    if timeout < 0:
        raise InvalidParam("'timeout' must not be negative")
    _require_member(current, room_id, user_id)
    tasks_api.set_typing(current.dispatcher, room_id=room_id, user_id=user_id, typing=typing,
                         timeout_ms=min(timeout, MAX_TIMEOUT_MS))
    return {}


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/rooms/<room_id>/typing/<user_id>", methods=["PUT"])(set_typing)
