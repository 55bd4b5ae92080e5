"""The Server-Server API as blueprints: ``/_matrix/federation/...`` (every view but ``/version`` and
``/openid/userinfo`` behind ``auth.server_authenticated``) and ``/_matrix/key/v2/...``."""

from __future__ import annotations

from flask import Blueprint

from web.federation.directory import get_public_rooms, query_directory, query_public_rooms
from web.federation.hierarchy import get_hierarchy
from web.federation.invites import invite_v1, invite_v2
from web.federation.keys import create_keys_blueprint
from web.federation.media import download_media, thumbnail_media
from web.federation.membership import (
    make_join,
    make_knock,
    make_leave,
    send_join_v1,
    send_join_v2,
    send_knock,
    send_leave_v1,
    send_leave_v2,
)
from web.federation.openid import get_userinfo
from web.federation.queries import get_version, query_profile
from web.federation.room_events import (
    backfill,
    get_event,
    get_event_auth,
    get_missing_events,
    get_state,
    get_state_ids,
)
from web.federation.third_party_invites import exchange_third_party_invite, on_bind
from web.federation.timestamps import get_event_by_timestamp
from web.federation.transactions import send_transaction
from web.federation.user_keys import claim_user_keys, get_user_devices, query_user_keys

__all__ = ["create_federation_blueprint", "create_keys_blueprint"]


def create_federation_blueprint() -> Blueprint:
    blueprint = Blueprint("federation", __name__, url_prefix="/_matrix/federation")
    blueprint.add_url_rule("/v1/version", view_func=get_version, methods=["GET"])
    blueprint.add_url_rule("/v1/query/profile", view_func=query_profile, methods=["GET"])
    blueprint.add_url_rule("/v1/send/<txn_id>", view_func=send_transaction, methods=["PUT"])
    blueprint.add_url_rule("/v1/event/<event_id:event_id>", view_func=get_event, methods=["GET"])
    blueprint.add_url_rule("/v1/state/<room_id>", view_func=get_state, methods=["GET"])
    blueprint.add_url_rule("/v1/state_ids/<room_id>", view_func=get_state_ids, methods=["GET"])
    blueprint.add_url_rule("/v1/event_auth/<room_id>/<event_id:event_id>", view_func=get_event_auth, methods=["GET"])
    blueprint.add_url_rule("/v1/backfill/<room_id>", view_func=backfill, methods=["GET"])
    blueprint.add_url_rule("/v1/get_missing_events/<room_id>", view_func=get_missing_events, methods=["POST"])
    for make, view in (("make_join", make_join), ("make_leave", make_leave), ("make_knock", make_knock)):
        blueprint.add_url_rule(f"/v1/{make}/<room_id>/<user_id>", view_func=view, methods=["GET"])
    for version, send, view in (("v1", "send_join", send_join_v1), ("v2", "send_join", send_join_v2),
                                ("v1", "send_leave", send_leave_v1), ("v2", "send_leave", send_leave_v2),
                                ("v1", "send_knock", send_knock), ("v1", "invite", invite_v1),
                                ("v2", "invite", invite_v2)):
        blueprint.add_url_rule(f"/{version}/{send}/<room_id>/<event_id:event_id>", view_func=view, methods=["PUT"],
                               endpoint=f"{send}_{version}")
    blueprint.add_url_rule("/v1/exchange_third_party_invite/<room_id>", view_func=exchange_third_party_invite,
                           methods=["PUT"])
    # The spec says PUT; identity servers (Sydent, SyTest's) send POST, which Synapse serves: both are taken.
    blueprint.add_url_rule("/v1/3pid/onbind", view_func=on_bind, methods=["PUT", "POST"])
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
