"""Synapse-compatible admin API (``/_synapse/admin/...``), so existing admin tooling works unchanged."""

from __future__ import annotations

from flask import Blueprint


def create_admin_blueprint() -> Blueprint:
    from web.admin import register

    blueprint = Blueprint("admin", __name__)
    register.register_routes(blueprint)
    return blueprint
