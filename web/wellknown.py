"""``/.well-known/matrix/client`` and ``/server`` (Client-Server API "Well-known URIs"; Server-Server API
"Resolving server names")."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint

from protocol.errors import NotFound
from web.deps import deps


def get_wellknown_client() -> dict[str, Any]:
    return {"m.homeserver": {"base_url": deps().config.public_baseurl}}


def get_wellknown_server() -> dict[str, Any]:
    config = deps().config
    if not config.serve_server_wellknown:
        raise NotFound("No .well-known/matrix/server is served here")
    parts = urlsplit(config.public_baseurl)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return {"m.server": f"{parts.hostname}:{port}"}


def create_wellknown_blueprint() -> Blueprint:
    blueprint = Blueprint("wellknown", __name__)
    blueprint.add_url_rule("/.well-known/matrix/client", view_func=get_wellknown_client, methods=["GET"])
    blueprint.add_url_rule("/.well-known/matrix/server", view_func=get_wellknown_server, methods=["GET"])
    return blueprint
