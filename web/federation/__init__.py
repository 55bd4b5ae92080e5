"""The Server-Server API as blueprints: ``/_matrix/federation/...`` (every view but ``/version`` behind
``auth.server_authenticated``) and ``/_matrix/key/v2/...``."""

from __future__ import annotations

from flask import Blueprint

from web.federation.keys import create_keys_blueprint
from web.federation.queries import get_version, query_profile

__all__ = ["create_federation_blueprint", "create_keys_blueprint"]


def create_federation_blueprint() -> Blueprint:
    blueprint = Blueprint("federation", __name__, url_prefix="/_matrix/federation")
    blueprint.add_url_rule("/v1/version", view_func=get_version, methods=["GET"])
    blueprint.add_url_rule("/v1/query/profile", view_func=query_profile, methods=["GET"])
    return blueprint
