"""The Server-Server API as blueprints: ``/_matrix/federation/...`` (every view but ``/version`` and
``/openid/userinfo`` behind ``auth.server_authenticated``) and ``/_matrix/key/v2/...``."""

from __future__ import annotations

from flask import Blueprint

from web.federation.directory import get_public_rooms, query_directory, query_public_rooms
from web.federation.hierarchy import get_hierarchy
from web.federation.keys import create_keys_blueprint
from web.federation.media import download_media, thumbnail_media
from web.federation.openid import get_userinfo
from web.federation.queries import get_version, query_profile
from web.federation.timestamps import get_event_by_timestamp
from web.federation.user_keys import claim_user_keys, get_user_devices, query_user_keys

__all__ = ["create_federation_blueprint", "create_keys_blueprint"]


def create_federation_blueprint() -> Blueprint:
    blueprint = Blueprint("federation", __name__, url_prefix="/_matrix/federation")
    blueprint.add_url_rule("/v1/version", view_func=get_version, methods=["GET"])
    blueprint.add_url_rule("/v1/query/profile", view_func=query_profile, methods=["GET"])
    blueprint.add_url_rule("/v1/query/directory", view_func=query_directory, methods=["GET"])
    blueprint.add_url_rule("/v1/publicRooms", view_func=get_public_rooms, methods=["GET"])
    blueprint.add_url_rule("/v1/publicRooms", view_func=query_public_rooms, methods=["POST"])
    blueprint.add_url_rule("/v1/hierarchy/<room_id>", view_func=get_hierarchy, methods=["GET"])
    blueprint.add_url_rule("/v1/timestamp_to_event/<room_id>", view_func=get_event_by_timestamp, methods=["GET"])
    blueprint.add_url_rule("/v1/user/devices/<user_id>", view_func=get_user_devices, methods=["GET"])
    blueprint.add_url_rule("/v1/user/keys/query", view_func=query_user_keys, methods=["POST"])
    blueprint.add_url_rule("/v1/user/keys/claim", view_func=claim_user_keys, methods=["POST"])
    blueprint.add_url_rule("/v1/openid/userinfo", view_func=get_userinfo, methods=["GET"])
    blueprint.add_url_rule("/v1/media/download/<media_id>", view_func=download_media, methods=["GET"])
    blueprint.add_url_rule("/v1/media/thumbnail/<media_id>", view_func=thumbnail_media, methods=["GET"])
    return blueprint
