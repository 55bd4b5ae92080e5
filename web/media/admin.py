"""Synapse's media admin API (docs/admin_api/media_admin_api.md), so existing admin tools work: listing a room's or
a user's media, quarantining, protecting and deleting it. Served with the media repository, as Synapse routes these
paths to its media worker. Remote media is not cached yet (no federation), so the remote halves are empty.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from werkzeug.exceptions import MethodNotAllowed

from persistence.media.deletion import delete_local_media, purge_remote_media
from persistence.stores.media import LocalMedia
from protocol.errors import Forbidden, InvalidParam, MatrixError, NotFound
from protocol.identifiers import UserId
from protocol.media import mxc_uris_in_content, parse_mxc_uri
from web.auth import authenticate
from web.deps import Deps, deps
from web.media.content import check_media_name, storage
from web.token_cache import Requester

ADMIN = "/_synapse/admin/v1"
ROOM_EVENTS_BATCH = 1000
DEFAULT_PAGE = 100
_ACTIONS = frozenset({"protect", "unprotect", "quarantine", "unquarantine"})
ORDER_COLUMNS = ("media_id", "upload_name", "created_ts", "last_access_ts", "media_length", "media_type",
                 "quarantined_by", "safe_from_quarantine")


def _admin(current: Deps) -> Requester:
    requester = authenticate(current)
    with current.database.read() as conn:
        user = current.stores.users.get_user(conn, requester.user_id)
    if user is None or not user.admin:
        raise Forbidden("You are not a server admin")
    return requester


def _query_int(name: str, default: int, minimum: int = 0) -> int:
    value = request.args.get(name)
    if value is None:
        return default
    if not value.isdigit() or int(value) < minimum:
        raise InvalidParam(f"Query parameter '{name}' must be an integer of at least {minimum}")
    return int(value)


def _local_user(current: Deps, user_id: str) -> str:
    try:
        parsed = UserId.parse(user_id)
    except ValueError:
        raise InvalidParam("Not a user id") from None
    if parsed.server_name != current.config.server_name:
        raise MatrixError("Can only look up local users", status=400)
    return user_id


def _room_media_ids(current: Deps, room_id: str) -> tuple[list[str], list[str]]:
    """Local media ids and remote ``server/id`` names referred to by the room's events."""
    local: dict[str, None] = {}
    remote: dict[str, None] = {}
    after: int | None = None
    with current.database.read() as conn:
        while True:
            batch = current.stores.events.list_room_events(conn, room_id, after=after, limit=ROOM_EVENTS_BATCH,
                                                           backwards=False)
            for stored in batch:
                for uri in mxc_uris_in_content(stored.event.content):
                    named = parse_mxc_uri(uri)
                    if named is None:
                        continue
                    server_name, media_id = named
                    if server_name == current.config.server_name:
                        local[media_id] = None
                    else:
                        remote[f"{server_name}/{media_id}"] = None
            if len(batch) < ROOM_EVENTS_BATCH:
                return list(local), list(remote)
            after = batch[-1].stream_ordering


def list_media_in_room(room_id: str) -> dict[str, Any]:
    current = deps()
    _admin(current)
    local, remote = _room_media_ids(current, room_id)
    server = current.config.server_name
    return {"local": [f"mxc://{server}/{media_id}" for media_id in local],
            "remote": [f"mxc://{name}" for name in remote]}


def quarantine_media_in_room(room_id: str) -> dict[str, Any]:
    current = deps()
    requester = _admin(current)
    local, _remote = _room_media_ids(current, room_id)
    with current.database.write() as conn:
        count = current.stores.media.update_quarantined(conn, local, requester.user_id)
    return {"num_quarantined": count}


def quarantine_media_of_user(user_id: str) -> dict[str, Any]:
    current = deps()
    requester = _admin(current)
    with current.database.write() as conn:
        media = current.stores.media.list_user_media(conn, _local_user(current, user_id), offset=0,
                                                     limit=1_000_000, order_by="created_ts", descending=False)
        count = current.stores.media.update_quarantined(conn, [item.media_id for item in media], requester.user_id)
    return {"num_quarantined": count}


def _local_media_id(current: Deps, server_name: str, media_id: str) -> str:
    check_media_name(server_name, media_id)
    if server_name != current.config.server_name:
        raise MatrixError("Can only act on local media", status=400)
    return media_id


def quarantine_media(server_name: str, media_id: str) -> dict[str, Any]:
    current = deps()
    requester = _admin(current)
    with current.database.write() as conn:
        current.stores.media.update_quarantined(conn, [_local_media_id(current, server_name, media_id)],
                                                requester.user_id)
    return {}


def unquarantine_media(server_name: str, media_id: str) -> dict[str, Any]:
    current = deps()
    _admin(current)
    with current.database.write() as conn:
        current.stores.media.update_quarantined(conn, [_local_media_id(current, server_name, media_id)], None)
    return {}


def _set_protected(media_id: str, protected: bool) -> dict[str, Any]:
    current = deps()
    _admin(current)
    with current.database.write() as conn:
        if not current.stores.media.update_protected(conn, _local_media_id(current, current.config.server_name,
                                                                            media_id), protected):
            raise NotFound("Unknown media")
    return {}


def protect_media(media_id: str) -> dict[str, Any]:
    return _set_protected(media_id, True)


def unprotect_media(media_id: str) -> dict[str, Any]:
    return _set_protected(media_id, False)


def _not_another_route(server_name: str, media_id: str) -> None:
    """``/media/protect/{id}`` and ``/media/{server}/delete`` are other routes (POST only): this one's path
    pattern also matches them, but a GET or DELETE there is a method those routes do not have."""
    if server_name in _ACTIONS or media_id == "delete":
        raise MethodNotAllowed()


def get_media_info(server_name: str, media_id: str) -> dict[str, Any]:
    _not_another_route(server_name, media_id)
    current = deps()
    _admin(current)
    with current.database.read() as conn:
        media = current.stores.media.get_media(conn, _local_media_id(current, server_name, media_id))
    if media is None:
        raise NotFound("Unknown media")
    return {"media_info": _describe(media)}


def delete_media(server_name: str, media_id: str) -> dict[str, Any]:
    _not_another_route(server_name, media_id)
    current = deps()
    _admin(current)
    media_id = _local_media_id(current, server_name, media_id)
    if not delete_local_media(current.database, current.stores.media, storage(current), media_id):
        raise NotFound("Unknown media")
    return {"deleted_media": [media_id], "total": 1}


def delete_media_before(server_name: str | None = None) -> dict[str, Any]:
    """``POST /media/delete?before_ts=``: local media last used before then (never protected or quarantined)."""
    current = deps()
    _admin(current)
    if server_name is not None and server_name != current.config.server_name:
        raise MatrixError("Can only delete local media", status=400)
    if "before_ts" not in request.args:
        raise MatrixError("Missing integer query parameter 'before_ts'", status=400)
    before_ts = _query_int("before_ts", 0)
    size_gt = _query_int("size_gt", 0)
    with current.database.read() as conn:
        candidates = current.stores.media.list_unused_since(conn, before_ts, 1_000_000)
        chosen = [media.media_id for media in current.stores.media.list_existing(conn, candidates)
                  if (media.media_length or 0) > size_gt]
    deleted = [media_id for media_id in chosen
               if delete_local_media(current.database, current.stores.media, storage(current), media_id)]
    return {"deleted_media": deleted, "total": len(deleted)}


def purge_media_cache() -> dict[str, Any]:
    """Synapse's admin API: drop cached remote media not accessed since ``before_ts`` (our own media is untouched;
    a later request fetches the remote media again)."""
    current = deps()
    _admin(current)
    if "before_ts" not in request.args:
        raise MatrixError("Missing integer query parameter 'before_ts'", status=400)
    before_ts = _query_int("before_ts", 0)
    return {"deleted": purge_remote_media(current.database, current.stores.remote_media, storage(current),
                                          before_ts)}


def _describe(media: LocalMedia) -> dict[str, Any]:
    return {"media_id": media.media_id, "media_type": media.media_type, "media_length": media.media_length,
            "upload_name": media.upload_name, "created_ts": media.created_ts,
            "last_access_ts": media.last_access_ts, "quarantined_by": media.quarantined_by,
            "safe_from_quarantine": media.safe_from_quarantine}


def list_media_of_user(user_id: str) -> dict[str, Any]:
    current = deps()
    _admin(current)
    user_id = _local_user(current, user_id)
    offset = _query_int("from", 0)
    limit = _query_int("limit", DEFAULT_PAGE, minimum=0)
    order_by = request.args.get("order_by", "created_ts")
    if order_by not in ORDER_COLUMNS:
        raise InvalidParam(f"Query parameter 'order_by' must be one of {', '.join(ORDER_COLUMNS)}")
    direction = request.args.get("dir", "f")
    if direction not in ("f", "b"):
        raise InvalidParam("Query parameter 'dir' must be f or b")
    with current.database.read() as conn:
        media = current.stores.media.list_user_media(conn, user_id, offset=offset, limit=limit, order_by=order_by,
                                                     descending=direction == "b")
        total = current.stores.media.count_user_media(conn, user_id)
    body: dict[str, Any] = {"media": [_describe(item) for item in media], "total": total}
    if offset + len(media) < total:
        body["next_token"] = offset + len(media)
    return body


def delete_media_of_user(user_id: str) -> dict[str, Any]:
    current = deps()
    _admin(current)
    user_id = _local_user(current, user_id)
    offset = _query_int("from", 0)
    limit = _query_int("limit", DEFAULT_PAGE, minimum=0)
    with current.database.read() as conn:
        media = current.stores.media.list_user_media(conn, user_id, offset=offset, limit=limit,
                                                     order_by="created_ts", descending=False)
    deleted = [item.media_id for item in media
               if delete_local_media(current.database, current.stores.media, storage(current), item.media_id)]
    return {"deleted_media": deleted, "total": len(deleted)}


def register_routes(blueprint: Blueprint) -> None:
    rules = (
        ("/room/<room_id>/media", list_media_in_room, "GET", ""),
        ("/room/<room_id>/media/quarantine", quarantine_media_in_room, "POST", ""),
        ("/quarantine_media/<room_id>", quarantine_media_in_room, "POST", "_deprecated"),
        ("/user/<user_id>/media/quarantine", quarantine_media_of_user, "POST", ""),
        ("/media/quarantine/<server_name>/<media_id>", quarantine_media, "POST", ""),
        ("/media/unquarantine/<server_name>/<media_id>", unquarantine_media, "POST", ""),
        ("/media/protect/<media_id>", protect_media, "POST", ""),
        ("/media/unprotect/<media_id>", unprotect_media, "POST", ""),
        ("/media/<server_name>/<media_id>", get_media_info, "GET", ""),
        ("/media/<server_name>/<media_id>", delete_media, "DELETE", ""),
        ("/media/delete", delete_media_before, "POST", ""),
        ("/media/<server_name>/delete", delete_media_before, "POST", "_on_server"),
        ("/purge_media_cache", purge_media_cache, "POST", ""),
        ("/users/<user_id>/media", list_media_of_user, "GET", ""),
        ("/users/<user_id>/media", delete_media_of_user, "DELETE", ""),
        ("/user/<user_id>/media", list_media_of_user, "GET", "_singular"),
        ("/user/<user_id>/media", delete_media_of_user, "DELETE", "_singular"),
    )
    for path, view, method, alias in rules:
        blueprint.add_url_rule(f"{ADMIN}{path}", endpoint=f"admin_{view.__name__}{alias}", view_func=view,
                               methods=[method])
