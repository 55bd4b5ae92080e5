"""URL previews: ``GET /_matrix/media/v3/preview_url`` and ``GET /_matrix/client/v1/media/preview_url`` (spec
v1.11), served only with ``url_preview_enabled``. The fetch itself runs on the media queue
(``tasks/url_previews.py``), which keeps it away from the addresses the admin blocked."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from protocol.errors import InvalidParam
from tasks.api import preview_url
from web.auth import authenticate
from web.deps import deps
from web.requests import required_query_text
from web.routing import client_route

MAX_URL_LENGTH = 2048


def get_url_preview() -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    url = required_query_text("url", max_length=MAX_URL_LENGTH)
    ts = request.args.get("ts")
    if ts is not None and not ts.isdigit():
        raise InvalidParam("Query parameter 'ts' must be a timestamp in milliseconds")
    if not url.startswith(("http://", "https://")):
        raise InvalidParam("Only http and https URLs can be previewed")
    return preview_url(current.dispatcher, url=url, user_id=requester.user_id)


def register_routes(blueprint: Blueprint) -> None:
    for version in ("r0", "v3"):
        blueprint.add_url_rule(f"/_matrix/media/{version}/preview_url", endpoint=f"get_url_preview_{version}",
                               view_func=get_url_preview, methods=["GET"])
    client_route(blueprint, "/media/preview_url", methods=["GET"], versions=("v1",))(get_url_preview)
