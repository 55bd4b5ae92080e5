"""What the server supports: ``/versions`` and ``/capabilities`` (Client-Server API, "Server discovery" and
"Capabilities negotiation")."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from protocol.room_versions import room_version_capability
from web.auth import authenticate
from web.deps import deps
from web.routing import client_route

SUPPORTED_VERSIONS = (
    "r0.0.1", "r0.1.0", "r0.2.0", "r0.3.0", "r0.4.0", "r0.5.0", "r0.6.0", "r0.6.1",
    "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11", "v1.12",
)

UNSTABLE_FEATURES = {"org.matrix.msc3814": True}
"""MSCs served under their unstable prefixes, which clients look for here: dehydrated devices."""


def get_versions() -> dict[str, Any]:
    return {"versions": list(SUPPORTED_VERSIONS), "unstable_features": dict(UNSTABLE_FEATURES)}


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
