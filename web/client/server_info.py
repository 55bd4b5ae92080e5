"""What the server supports: ``/versions`` and ``/capabilities`` (Client-Server API, "Server discovery" and
"Capabilities negotiation")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, current_app
from werkzeug.exceptions import HTTPException

from protocol.room_versions import room_version_capability
from protocol.spec_versions import advertised_versions
from web.auth import authenticate
from web.deps import deps
from web.routing import client_route

UNSTABLE_FEATURES = {"org.matrix.msc3814": True, "org.matrix.simplified_msc3575": True}
"""MSCs served under their unstable prefixes, which clients look for here: dehydrated devices, simplified sliding
sync (MSC4186, ``web/sliding_sync/``; Element X and the Rust SDK look for this name, as Synapse advertises it)."""


def routes_to_a_view(app: Flask) -> Callable[[str, str], bool]:
    """Whether the app's URL map routes a request (method, path) to a view: what protocol/spec_versions.py checks
    each version's endpoints with."""
    adapter = app.url_map.bind("localhost")

    def serves(method: str, path: str) -> bool:
        try:
            adapter.match(path, method=method)
        except HTTPException:  # 404, 405; a redirect for a missing trailing slash is a RequestRedirect, also one
            return False
        return True

    return serves


def supported_versions(app: Flask) -> tuple[str, ...]:
    """The spec versions whose required endpoints this app serves, computed once per app."""
    versions: tuple[str, ...] = app.extensions.get("ganglion.spec_versions") or advertised_versions(
        routes_to_a_view(app))
    app.extensions["ganglion.spec_versions"] = versions
    return versions


def get_versions() -> dict[str, Any]:
    return {"versions": list(supported_versions(current_app)), "unstable_features": dict(UNSTABLE_FEATURES)}


def get_capabilities() -> dict[str, Any]:
    current = deps()
    authenticate(current, allow_guest=True)
    passwords = current.config.passwords
    return {
        "capabilities": {
            "m.change_password": {"enabled": passwords.enabled and passwords.localdb_enabled},
            "m.set_displayname": {"enabled": True},
            "m.set_avatar_url": {"enabled": True},
            "m.3pid_changes": {"enabled": False},
            "m.get_login_token": {"enabled": False},
            "m.room_versions": room_version_capability(current.config.default_room_version),
        }
    }


def register_routes(blueprint: Blueprint) -> None:
    blueprint.add_url_rule("/_matrix/client/versions", view_func=get_versions, methods=["GET"])
    client_route(blueprint, "/capabilities", methods=["GET"])(get_capabilities)
