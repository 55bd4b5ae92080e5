"""The unsubscribe link of notification emails (Synapse's ``/_synapse/client/unsubscribe``): removes the one
email pusher the email was sent for, without a login, when the link's token is that pusher's signature
(``protocol/unsubscribe_tokens.py``).

``GET`` (following the link) and ``POST`` (RFC 8058 one-click ``List-Unsubscribe``) both unsubscribe; the answer is
a short HTML page. A bad or missing parameter gets the Matrix error. Removing a pusher already gone succeeds:
a link clicked twice says the same thing twice.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from protocol.errors import Forbidden, MissingParam
from protocol.unsubscribe_tokens import UNSUBSCRIBE_PATH, secret_of, verify
from web.deps import deps

PAGE = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Unsubscribed</title></head>"
        "<body><p>You have been unsubscribed from these notification emails.</p></body></html>")


def _param(name: str) -> str:
    value = request.args.get(name)
    if not value:
        raise MissingParam(f"Missing string query parameter '{name}'")
    return value


def unsubscribe() -> Response:
    current = deps()
    user_id, app_id, pushkey = _param("user_id"), _param("app_id"), _param("pushkey")
    if not verify(secret_of(current.signing_key), _param("token"), user_id, app_id, pushkey):
        raise Forbidden("This unsubscribe link is not valid")
    with current.database.write() as conn:
        current.stores.pushers.delete_pusher(conn, user_id, app_id, pushkey)
    return Response(PAGE, status=200, mimetype="text/html")


def register_routes(blueprint: Blueprint) -> None:
    blueprint.add_url_rule(f"/{UNSUBSCRIBE_PATH}", endpoint="email_unsubscribe", view_func=unsubscribe,
                           methods=["GET", "POST"])
