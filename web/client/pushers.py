"""Pushers (Client-Server API, "Push Notifications", ``GET /pushers`` and ``POST /pushers/set``).

A pusher is a user's (app_id, pushkey): an http one names a push gateway (``data.url``) that the pusher task
(``tasks/pushers.py``) sends the user's notifications to; an email one is kept and listed. A new pusher starts at
the events stream's current position: it is sent what notifies from now on, not the user's backlog.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint

from persistence.stores.pushers import PusherFields
from protocol.errors import InvalidParam, MissingParam
from protocol.sync_tokens import WriterPositions
from web.auth import authenticate
from web.deps import deps
from web.requests import Body, json_body
from web.routing import client_route

KINDS = ("http", "email")
NOTIFY_PATH = "/_matrix/push/v1/notify"
"""The only path an http pusher's URL may have (spec: ``PusherData.url``)."""
MAX_APP_ID = 64
MAX_PUSHKEY_BYTES = 512
EVENTS_STREAM = "events"


def get_pushers() -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    with current.database.read() as conn:
        found = current.stores.pushers.list_pushers(conn, requester.user_id)
    return {"pushers": [pusher.to_client() for pusher in found]}


def _check_keys(body: Body) -> tuple[str, str]:
    app_id = body.text("app_id")
    pushkey = body.text("pushkey")
    if not app_id or len(app_id) > MAX_APP_ID:
        raise InvalidParam(f"'app_id' must be 1 to {MAX_APP_ID} characters")
    if not pushkey or len(pushkey.encode("utf-8")) > MAX_PUSHKEY_BYTES:
        raise InvalidParam(f"'pushkey' must be 1 to {MAX_PUSHKEY_BYTES} bytes")
    return app_id, pushkey


def _check_data(kind: str, data: Body) -> None:
    """An http pusher needs ``data.url``, an http(s) URL whose path is the gateway's notify path; ``format``, if
    given, is a string (``event_id_only`` is the one the spec defines)."""
    data.text("format", None)
    if kind != "http":
        return
    url = data.data.get("url")
    if url is None:
        raise MissingParam("'url' required in data for HTTP pusher")
    if not isinstance(url, str):
        raise InvalidParam("'data.url' must be a string")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise InvalidParam("'data.url' must be an http(s) URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParam("'data.url' must be an http(s) URL")
    if parts.path != NOTIFY_PATH:
        raise InvalidParam(f"'data.url' must have the path '{NOTIFY_PATH}'")


def post_pusher() -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    body = json_body()
    app_id, pushkey = _check_keys(body)
    if body.data.get("kind", "absent") is None:  # spec: "kind: null" deletes the pusher
        with current.database.write() as conn:
            current.stores.pushers.delete_pusher(conn, requester.user_id, app_id, pushkey)
        return {}
    kind = body.text("kind")
    if kind not in KINDS:
        raise InvalidParam(f"'kind' must be one of {', '.join(KINDS)} (or null to remove the pusher)")
    data = body.object("data")
    assert data is not None
    _check_data(kind, data)
    fields = PusherFields(kind, app_id, pushkey, body.text("app_display_name"), body.text("device_display_name"),
                          body.text("profile_tag", None), body.text("lang"), data.data)
    append = body.flag("append", False)
    with current.database.write() as conn:
        positions = WriterPositions.of_writers(current.stores.stream_ids.get_positions(conn, EVENTS_STREAM))
        current.stores.pushers.upsert_pusher(conn, requester.user_id, requester.device_id, fields,
                                             current.clock.now_ms(), positions, append=append)
    return {}


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/pushers", methods=["GET"])(get_pushers)
    client_route(blueprint, "/pushers/set", methods=["POST"])(post_pusher)
