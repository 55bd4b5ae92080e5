"""The Client-Server API blueprint: ``/_matrix/client/...``. Each module holds the views of one spec section."""

from __future__ import annotations

from flask import Blueprint


def create_client_blueprint() -> Blueprint:
    from web.client import account, devices, login, membership, profile, register, rooms, server_info

    blueprint = Blueprint("client", __name__)
    for module in (server_info, register, login, account, devices, profile, rooms, membership):
        module.register_routes(blueprint)
    return blueprint
