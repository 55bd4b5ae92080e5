"""Uploads: ``POST /_matrix/media/v3/upload`` and the asynchronous pair ``POST /_matrix/media/v1/create`` then
``PUT /_matrix/media/v3/upload/{serverName}/{mediaId}`` (spec v1.7).

The body streams to a staged file (never whole into memory), counted against ``max_upload_size`` as it comes;
only a complete body is renamed into place, inside the transaction that records it. A body that is too large
(413 ``M_TOO_LARGE``), cut short (400) or refused for any other reason leaves nothing behind.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, request
from sqlalchemy import Connection
from werkzeug.wsgi import get_input_stream

from persistence.media.records import keep_if_recorded
from persistence.media.storage import StagedFile, content_key
from persistence.media.thumbnailer import can_thumbnail
from persistence.stores.media import UploadedContent
from protocol.errors import Forbidden, InvalidParam, LimitExceeded, NotFound, TooLarge
from protocol.media import (
    DEFAULT_CONTENT_TYPE,
    is_acceptable_content_type,
    is_acceptable_filename,
    mxc_uri,
)
from tasks.api import media_uploaded
from web.auth import authenticate
from web.deps import Deps, deps
from web.media.content import CannotOverwriteMedia, check_media_name, storage
from web.ratelimit import check_rate_limit
from web.requests import query_text
from web.token_cache import Requester

MEDIA_ID_BYTES = 18
"""24 URL-safe characters: unguessable, as knowing an ``mxc://`` URI is enough to download it."""
READ_CHUNK = 64 * 1024


def _new_media_id() -> str:
    return secrets.token_urlsafe(MEDIA_ID_BYTES)


def _upload_metadata() -> tuple[str, str | None]:
    """The content type (spec v1.12: optional, ``application/octet-stream`` by default) and file name."""
    content_type = request.headers.get("Content-Type") or DEFAULT_CONTENT_TYPE
    if not is_acceptable_content_type(content_type):
        raise InvalidParam("Content-Type must be a media type such as image/png")
    filename = query_text("filename", max_length=1024) or None
    if filename is not None and not is_acceptable_filename(filename):
        raise InvalidParam("filename must be a printable file name without slashes, at most 255 characters")
    return content_type, filename


def _check_declared_size(current: Deps) -> None:
    limit = current.config.media.max_upload_size
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(f"Cannot upload files larger than {limit} bytes")


def _check_quota(current: Deps, conn: Connection, user_id: str, adding: int) -> None:
    """``media_upload_limits``: the spec's 403 ``M_FORBIDDEN`` once a user's uploads in a period pass a limit."""
    now = current.clock.now_ms()
    for limit in current.config.media.upload_limits:
        used = current.stores.media.sum_uploaded_since(conn, user_id, now - limit.time_period_ms)
        if used + adding > limit.max_size:
            raise Forbidden("Media upload limit exceeded")


def _receive(current: Deps, staged: StagedFile) -> None:
    """Stream the request body into ``staged``; werkzeug stops a body past the limit (413) or cut short (400)."""
    limit = current.config.media.max_upload_size
    stream = get_input_stream(request.environ, max_content_length=limit)
    while chunk := stream.read(READ_CHUNK):
        staged.write(chunk)
        if staged.length > limit:
            raise TooLarge(f"Cannot upload files larger than {limit} bytes")


def _uploaded(current: Deps, media_id: str, content_type: str) -> None:
    """Poke the media queue for the configured thumbnails, only when there can be any: for other content the task
    would find nothing to make, and in the monolith it runs before the upload answers."""
    if can_thumbnail(content_type):
        media_uploaded(current.dispatcher, media_id)


def upload_content() -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    content_type, filename = _upload_metadata()
    _check_declared_size(current)
    if current.config.media.upload_limits:
        with current.database.read() as conn:
            _check_quota(current, conn, requester.user_id, request.content_length or 0)
    media_id = _new_media_id()
    with storage(current).stage() as staged:
        _receive(current, staged)
        content = UploadedContent(content_type, filename, staged.length, staged.sha256)

        def record(conn: Connection) -> bool:
            _check_quota(current, conn, requester.user_id, staged.length)
            current.stores.media.insert_media(
                conn, media_id, requester.user_id, current.clock.now_ms(),
                authenticated=current.config.media.enable_authenticated_media, content=content)
            return True

        keep_if_recorded(current.database, storage(current), staged, content_key(media_id), record)
    _uploaded(current, media_id, content_type)
    return {"content_uri": mxc_uri(current.config.server_name, media_id)}


def create_content() -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    check_rate_limit(current, "rc_media_create", requester.user_id)
    media = current.config.media
    now = current.clock.now_ms()
    media_id = _new_media_id()
    expires = now + media.unused_expiration_time_ms
    with current.database.write() as conn:
        if current.stores.media.count_pending(conn, requester.user_id, now) >= media.max_pending_media_uploads:
            # Spec: too many pending uploads is answered like a rate limit.
            raise LimitExceeded("Too many pending media uploads", retry_after_ms=60_000)
        current.stores.media.insert_media(conn, media_id, requester.user_id, now,
                                          authenticated=media.enable_authenticated_media, content=None,
                                          unused_expires_ts=expires)
    return {"content_uri": mxc_uri(current.config.server_name, media_id), "unused_expires_at": expires}


def _check_may_upload_to(current: Deps, requester: Requester, server_name: str, media_id: str) -> None:
    check_media_name(server_name, media_id)
    if server_name != current.config.server_name:
        raise NotFound("Unknown media id")
    with current.database.read() as conn:
        media = current.stores.media.get_media(conn, media_id)
    if media is None:
        raise NotFound("Unknown media id")
    if media.user_id != requester.user_id:
        raise Forbidden("You may only upload to media ids you created")
    if media.uploaded:
        raise CannotOverwriteMedia("Media ID already has content")
    if media.unused_expires_ts is not None and media.unused_expires_ts <= current.clock.now_ms():
        raise NotFound("Media id has expired")


def upload_content_to_mxc(server_name: str, media_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    content_type, filename = _upload_metadata()
    _check_may_upload_to(current, requester, server_name, media_id)
    _check_declared_size(current)
    with storage(current).stage() as staged:
        _receive(current, staged)
        content = UploadedContent(content_type, filename, staged.length, staged.sha256)

        def record(conn: Connection) -> bool:
            _check_quota(current, conn, requester.user_id, staged.length)
            if not current.stores.media.update_uploaded(conn, media_id, content, current.clock.now_ms()):
                raise CannotOverwriteMedia("Media ID already has content")  # a concurrent upload won
            return True

        keep_if_recorded(current.database, storage(current), staged, content_key(media_id), record)
    _uploaded(current, media_id, content_type)
    return {}


def register_routes(blueprint: Blueprint) -> None:
    for version in ("r0", "v3"):
        blueprint.add_url_rule(f"/_matrix/media/{version}/upload", endpoint=f"upload_content_{version}",
                               view_func=upload_content, methods=["POST"])
    blueprint.add_url_rule("/_matrix/media/v3/upload/<server_name>/<media_id>", view_func=upload_content_to_mxc,
                           methods=["PUT"])
    blueprint.add_url_rule("/_matrix/media/v1/create", view_func=create_content, methods=["POST"])
