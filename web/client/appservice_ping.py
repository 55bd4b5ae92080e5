"""Application service ping (Client-Server API v1.7, "Pinging the application service"): an application service
asks the homeserver to call its ``/_matrix/app/v1/ping`` to check both directions of their connection.

Only the application service itself may ping, authenticated by its ``as_token``. Ganglion registers no
application services yet (``app_service_config_files`` is not read yet), so no access token
belongs to one and every authenticated caller gets the spec's 403 ``M_FORBIDDEN``; an unknown token gets 401 as
anywhere else. Once application services exist, the ping itself is a request from the appservice queue.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from protocol.errors import Forbidden
from web.auth import authenticate
from web.deps import deps
from web.requests import json_body
from web.routing import client_route

MAX_TRANSACTION_ID_LENGTH = 255


def ping_appservice(appservice_id: str) -> dict[str, Any]:
    current = deps()
    authenticate(current)
    json_body().text("transaction_id", None, max_length=MAX_TRANSACTION_ID_LENGTH)
    raise Forbidden(f"Only the application service {appservice_id!r} may ping itself, with its own token")


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/appservice/<appservice_id>/ping", methods=["POST"], versions=("v1",))(ping_appservice)
