"""What the media views share: naming media (ids checked before anything else), waiting for content that was
promised by ``/create``, and answering with stored bytes under the headers that keep them inert."""

from __future__ import annotations

import time

from flask import Response, redirect, request
from werkzeug.wsgi import wrap_file

from persistence.media.storage import MediaStorage, StoredFile, media_storage
from persistence.stores.media import LocalMedia
from protocol.errors import InvalidParam, MatrixError, NotFound
from protocol.media import SECURITY_HEADERS, is_valid_media_id, is_valid_media_origin
from web.deps import Deps

DEFAULT_TIMEOUT_MS = 20_000
MAX_TIMEOUT_MS = 60_000
"""The spec's ``timeout_ms`` SHOULD be capped: a client cannot hold a request open longer than this."""
POLL_SECONDS = 0.25
CACHE_CONTROL = "public, max-age=86400, s-maxage=86400"
ACCESS_RECORD_INTERVAL_MS = 60_000
"""How stale ``last_access_ts`` may get before a download writes it again (retention needs only coarse times)."""


class NotYetUploaded(MatrixError):
    errcode = "M_NOT_YET_UPLOADED"
    status = 504


class CannotOverwriteMedia(MatrixError):
    errcode = "M_CANNOT_OVERWRITE_MEDIA"
    status = 409


def storage(current: Deps) -> MediaStorage:
    return media_storage(current.config.media)


def check_media_name(server_name: str, media_id: str) -> None:
    """Spec, "Security considerations": a server name that is a server name and a media id of the URL-safe
    alphabet only, so an id can never reach outside the store. Anything else names no media."""
    if not is_valid_media_origin(server_name) or not is_valid_media_id(media_id):
        raise NotFound("Not found")


def query_flag(name: str, default: bool) -> bool:
    value = request.args.get(name)
    if value is None:
        return default
    if value not in ("true", "false"):
        raise InvalidParam(f"Query parameter '{name}' must be true or false")
    return value == "true"


def query_timeout_ms() -> int:
    value = request.args.get("timeout_ms")
    if value is None:
        return DEFAULT_TIMEOUT_MS
    if not value.isdigit():
        raise InvalidParam("Query parameter 'timeout_ms' must be a non-negative integer")
    return min(int(value), MAX_TIMEOUT_MS)


def local_media(current: Deps, server_name: str, media_id: str, *, authenticated_endpoint: bool) -> LocalMedia:
    """The complete local media named, waiting up to ``timeout_ms`` for content still to be uploaded; 404 for
    media that does not exist, is quarantined, or (on the legacy endpoints) was uploaded under
    ``enable_authenticated_media``; 504 ``M_NOT_YET_UPLOADED`` when the wait ends first."""
    check_media_name(server_name, media_id)
    query_flag("allow_redirect", False)  # checked here; used by redirect_response
    query_flag("allow_remote", True)
    if server_name != current.config.server_name:
        raise NotFound("Not local media")  # remote media is served by web/media/remote.py
    deadline = time.monotonic() + query_timeout_ms() / 1000
    while True:
        with current.database.read() as conn:
            media = current.stores.media.get_media(conn, media_id)
        if media is None or media.quarantined_by is not None:
            raise NotFound("Not found")
        if media.authenticated and not authenticated_endpoint:
            # Synapse's freeze of unauthenticated media (spec v1.11 warning): new media only over /client/v1.
            raise NotFound("Not found")
        if media.uploaded:
            _record_access(current, media)
            return media
        if media.unused_expires_ts is not None and media.unused_expires_ts <= current.clock.now_ms():
            raise NotFound("Not found")
        if time.monotonic() >= deadline:
            raise NotYetUploaded("Content has not yet been uploaded")
        time.sleep(POLL_SECONDS)


def _record_access(current: Deps, media: LocalMedia) -> None:
    now = current.clock.now_ms()
    if media.last_access_ts is None or now - media.last_access_ts >= ACCESS_RECORD_INTERVAL_MS:
        with current.database.write() as conn:
            current.stores.media.update_last_access(conn, [media.media_id], now)


def redirect_response(store: MediaStorage, key: str, content_type: str, disposition: str) -> Response | None:
    """Spec, content repository, ``allow_redirect``: with ``true`` the server may answer 307 to where the media
    is. Ganglion does when the bytes are only in a storage provider that can serve them itself (an S3 bucket's
    presigned URL, carrying the same ``Content-Type`` and ``Content-Disposition``): the client downloads from the
    bucket instead of through us. Bytes on our disk, and every client that did not opt in, get the content."""
    if not query_flag("allow_redirect", False):
        return None
    url = store.redirect_url(key, content_type, disposition)
    if url is None:
        return None
    response = redirect(url, code=307)
    response.headers["Cache-Control"] = "no-store"  # the URL expires; the spec: do not cache it
    return response


def file_response(stored: StoredFile, content_type: str, disposition: str) -> Response:
    """Stream ``stored`` (closed once sent) with the media security headers."""
    response = Response(wrap_file(request.environ, stored.handle), direct_passthrough=True)
    response.headers["Content-Type"] = content_type
    response.headers["Content-Length"] = str(stored.length)
    response.headers["Content-Disposition"] = disposition
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers.update(SECURITY_HEADERS)
    return response
