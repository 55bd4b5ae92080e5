"""``GET``/``PUT /presence/{userId}/status`` (Client-Server API, "Presence").

Anyone may read the presence of a user they share a joined room with, or their own; others get 403, as Synapse
answers. Only oneself may set it, at most as often as ``rc_presence.per_user`` allows. With ``presence:
{enabled: false}`` everyone reads as offline and setting changes nothing (Synapse's behaviour), as it does not
with ``enabled: untracked`` either.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from protocol.errors import Forbidden, InvalidParam
from protocol.identifiers import UserId
from protocol.presence import OFFLINE, STATES, presence_content
from tasks import api as tasks_api
from web.auth import authenticate
from web.deps import deps
from web.ratelimit import check_rate_limit
from web.requests import json_body
from web.routing import client_route


def get_presence(user_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    try:
        UserId.parse(user_id)
    except ValueError:
        raise InvalidParam(f"{user_id!r} is not a user id") from None
    if not current.config.presence.enabled:
        return {"presence": OFFLINE}
    with current.database.read() as conn:
        if requester.user_id != user_id and not current.stores.state.share_a_room(conn, requester.user_id, user_id):
            raise Forbidden("You are not allowed to see their presence")
        found = current.stores.presence.get_presence(conn, user_id)
    return presence_content(found, current.clock.now_ms(), current.config.presence.timers)


def set_presence(user_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    if requester.user_id != user_id:
        raise Forbidden("Can only set your own presence state")
    body = json_body()
    state = body.text("presence")
    if state not in STATES:
        raise InvalidParam(f"'presence' must be one of {', '.join(STATES)}")
    status_msg = body.text("status_msg", None)
    check_rate_limit(current, "rc_presence.per_user", user_id)
    if current.config.presence.tracked:
        tasks_api.set_presence(current.dispatcher, user_id=user_id, presence=state, status_msg=status_msg)
    return {}


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/presence/<user_id>/status", methods=["GET"])(get_presence)
    client_route(blueprint, "/presence/<user_id>/status", methods=["PUT"])(set_presence)
