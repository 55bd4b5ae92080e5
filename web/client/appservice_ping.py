"""Application service ping (Client-Server API v1.7, "Pinging the application service"): an application service
asks the homeserver to call its ``/_matrix/app/v1/ping`` to check both directions of their connection.

Only the application service itself may ping, authenticated by its ``as_token``; a user's token gets the spec's
403 ``M_FORBIDDEN``. The homeserver's call goes straight from this request (the client waits for its outcome):
``M_URL_NOT_SET`` without a url, ``M_BAD_STATUS`` (502) with the appservice's status and body when it answered
an error, ``M_CONNECTION_TIMEOUT`` (504) or ``M_CONNECTION_FAILED`` (502) when it could not be reached.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from appservice_client.client import AppServiceUnreachable, ping
from protocol.errors import BadStatus, ConnectionFailed, ConnectionTimeout, Forbidden, UrlNotSet
from web.auth import authenticate
from web.deps import deps
from web.requests import json_body
from web.routing import client_route

MAX_TRANSACTION_ID_LENGTH = 255


def ping_appservice(appservice_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    transaction_id = json_body().text("transaction_id", None, max_length=MAX_TRANSACTION_ID_LENGTH)
    service = current.config.appservices.by_id(appservice_id)
    if service is None or requester.appservice_id != service.id:
        raise Forbidden(f"Only the application service {appservice_id!r} may ping itself, with its own token")
    if service.url is None:
        raise UrlNotSet("The application service has no URL")
    try:
        duration_ms = ping(service, transaction_id, verify_tls=not current.config.insecure_outbound_tls)
    except AppServiceUnreachable as error:
        if error.status is not None:
            raise BadStatus("The application service answered with an error", status=502,
                            status_code=error.status, body=error.text) from None
        if error.timed_out:
            raise ConnectionTimeout("The application service did not answer in time") from None
        raise ConnectionFailed("The application service could not be reached") from None
    return {"duration_ms": duration_ms}


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/appservice/<appservice_id>/ping", methods=["POST"], versions=("v1",))(ping_appservice)
