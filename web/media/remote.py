"""Other servers' media for our clients: served from the remote media cache, fetched into it first by the
``media`` queue (``tasks/remote_media.py``) unless the client said ``allow_remote=false``.

Thumbnails of remote media are the origin's own, fetched the same way for each size and method asked for and
cached beside the originals.
"""

from __future__ import annotations

from flask import Response

from persistence.media.storage import remote_content_key, remote_thumbnail_key
from persistence.stores.remote_media import RemoteMedia
from protocol.errors import NotFound
from protocol.media import content_disposition, served_content_type
from tasks import api as tasks_api
from web.deps import Deps
from web.media.content import (
    ACCESS_RECORD_INTERVAL_MS,
    check_media_name,
    file_response,
    query_flag,
    query_timeout_ms,
    redirect_response,
    storage,
)

MIN_FETCH_SECONDS = 5.0
"""However short ``timeout_ms`` is, a fetch gets this long: the spec's timeout is for content not yet uploaded."""


def _fetch_options() -> tuple[bool, float]:
    query_flag("allow_redirect", False)  # checked here; used by redirect_response
    return query_flag("allow_remote", True), max(query_timeout_ms() / 1000, MIN_FETCH_SECONDS)


def remote_media(current: Deps, origin: str, media_id: str) -> RemoteMedia:
    """The cached copy of ``mxc://origin/media_id``, fetched now when absent and ``allow_remote`` allows."""
    check_media_name(origin, media_id)
    allow_remote, timeout_s = _fetch_options()
    stores = current.stores.remote_media
    with current.database.read() as conn:
        cached = stores.get_media(conn, origin, media_id)
    if cached is None:
        if not allow_remote:
            raise NotFound("Not found")
        tasks_api.fetch_remote_media(current.dispatcher, origin=origin, media_id=media_id, timeout=timeout_s)
        with current.database.read() as conn:
            cached = stores.get_media(conn, origin, media_id)
        if cached is None:  # removed from the cache in between: rare, and a retry fetches again
            raise NotFound("Not found")
    now = current.clock.now_ms()
    if now - cached.last_access_ts >= ACCESS_RECORD_INTERVAL_MS:
        with current.database.write() as conn:
            stores.update_last_access(conn, origin, media_id, now)
    return cached


def remote_file_response(current: Deps, origin: str, media_id: str, file_name: str | None) -> Response:
    media = remote_media(current, origin, media_id)
    content_type = served_content_type(media.media_type)
    name = file_name if file_name is not None else media.upload_name
    disposition = content_disposition(content_type, name)
    store, key = storage(current), remote_content_key(origin, media_id)
    redirected = redirect_response(store, key, content_type, disposition)
    if redirected is not None:
        return redirected
    stored = store.open(key)
    if stored is None:
        raise NotFound("Not found")
    return file_response(stored, content_type, disposition)


def remote_thumbnail_response(current: Deps, origin: str, media_id: str, width: int, height: int,
                              method: str) -> Response:
    """The origin's thumbnail at this size and method, from the cache or fetched now (``allow_remote``)."""
    check_media_name(origin, media_id)
    allow_remote, timeout_s = _fetch_options()
    stores = current.stores.remote_media
    with current.database.read() as conn:
        cached = stores.get_thumbnail(conn, origin, media_id, width, height, method)
    if cached is None:
        if not allow_remote:
            raise NotFound("Not found")
        tasks_api.fetch_remote_thumbnail(current.dispatcher, origin=origin, media_id=media_id, width=width,
                                         height=height, method=method, timeout=timeout_s)
        with current.database.read() as conn:
            cached = stores.get_thumbnail(conn, origin, media_id, width, height, method)
        if cached is None:
            raise NotFound("Not found")
    stored = storage(current).open(remote_thumbnail_key(origin, media_id, width, height, method))
    if stored is None:
        raise NotFound("Not found")
    content_type = served_content_type(cached.content_type)
    subtype = content_type.partition("/")[2].partition(";")[0].strip()
    name = f"thumbnail.{subtype}" if subtype.isalnum() else "thumbnail"
    # Spec v1.12: a thumbnail is inline, with a file name (and never inline when the origin sent an unsafe type).
    return file_response(stored, content_type, content_disposition(content_type, name))
