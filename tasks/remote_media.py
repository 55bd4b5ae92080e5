"""Fetching another server's media into our cache, on the ``media`` queue (Server-Server API, "Content
Repository"; Client-Server API, "Content repository" on ``allow_remote``).

The spec v1.11 endpoint ``GET /_matrix/federation/v1/media/download/{mediaId}`` first (a two-part
``multipart/mixed`` answer, ``protocol/federation/media.py``); when the origin does not know that endpoint, the
legacy ``/_matrix/media/v3/download/{serverName}/{mediaId}?allow_remote=false``. An origin may keep its media
elsewhere (a CDN, a bucket): a redirect, or a ``Location`` part in the multipart answer, is followed by the
federation client, a bounded number of hops, each to an address the IP range rules allow. The bytes are bounded by
``max_upload_size``, staged and committed atomically, and recorded only once complete; concurrent fetches of one
file wait for the first (``persistence/single_flight.py``) and then find it cached.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from federation_client.client import FederationClient, path_segment
from federation_client.errors import FederationError, RemoteError, ResponseTooLarge, UnknownServer
from federation_client.transport import Response
from persistence.media.storage import media_storage, remote_content_key, remote_thumbnail_key
from persistence.stores.remote_media import RemoteMedia, RemoteThumbnail
from protocol.errors import MatrixError, NotFound, TooLarge
from protocol.federation.media import MalformedMultipart, filename_from_disposition, parse_media_response
from tasks.api import FETCH_REMOTE_MEDIA, FETCH_REMOTE_THUMBNAIL
from tasks.context import TaskContext
from tasks.registry import TaskSpec

logger = logging.getLogger(__name__)
MULTIPART_OVERHEAD = 64 * 1024
"""Bytes a multipart answer may carry beyond the media itself (boundaries, part headers, metadata)."""
UNKNOWN_ENDPOINT = (400, 404, 405, 501)
DEFAULT_CONTENT_TYPE = "application/octet-stream"


class RemoteMediaUnavailable(MatrixError):
    """The origin could not be asked, or gave no usable answer (Synapse answers 502 too)."""

    status = 502


def _describe(media: RemoteMedia) -> dict[str, Any]:
    return {"media_type": media.media_type, "media_length": media.media_length, "upload_name": media.upload_name}


def _endpoint_unknown(error: RemoteError) -> bool:
    """Whether the origin lacks the federation media endpoint (an older server), rather than the media."""
    errcode = error.body.get("errcode") if isinstance(error.body, dict) else None
    return error.status in UNKNOWN_ENDPOINT and errcode in (None, "M_UNRECOGNIZED")


def _download(client: FederationClient, origin: str, media_id: str, max_bytes: int, kind: str = "download",
              query: dict[str, str] | None = None) -> tuple[bytes, str, str | None]:
    """The media's (or with ``kind`` ``thumbnail``, a thumbnail's) bytes, content type and file name."""
    path = f"/_matrix/federation/v1/media/{kind}/{path_segment(media_id)}"
    try:
        response = client.get_bytes(origin, path, {**(query or {}), "timeout_ms": "20000"},
                                    max_bytes=max_bytes + MULTIPART_OVERHEAD)
    except RemoteError as error:
        if not _endpoint_unknown(error):
            raise
        legacy = f"/_matrix/media/v3/{kind}/{path_segment(origin)}/{path_segment(media_id)}"
        response = client.get_bytes(origin, legacy, {**(query or {}), "allow_remote": "false"}, max_bytes=max_bytes)
        return _plain(response)
    content_type = response.headers.get("content-type", "")
    if urlsplit(response.url).path != path and not content_type.lower().startswith("multipart/"):
        # Redirected to where the bytes are (a CDN serves them as themselves, not in the federation multipart).
        return _plain(response)
    part = parse_media_response(content_type, response.body)
    if part.location is not None:
        # The origin points to where the bytes are; that URL (and its redirects) is fetched like any outbound
        # request: unsigned, SSRF-checked, bounded hops. Not cached (the spec: it may be short-lived).
        return _plain(client.get_url(part.location, max_bytes=max_bytes))
    return part.content, part.content_type or DEFAULT_CONTENT_TYPE, filename_from_disposition(
        part.content_disposition)


def _plain(response: Response) -> tuple[bytes, str, str | None]:
    """Media served as itself: the body, under its own ``Content-Type`` and ``Content-Disposition``."""
    return (response.body, response.headers.get("content-type") or DEFAULT_CONTENT_TYPE,
            filename_from_disposition(response.headers.get("content-disposition")))


def _fetched(origin: str, fetch: Callable[[], tuple[bytes, str, str | None]],
             max_bytes: int) -> tuple[bytes, str, str | None]:
    """What ``fetch`` got from ``origin``, its failures as the client's errors."""
    try:
        content, content_type, name = fetch()
    except RemoteError as error:
        if error.status == 404:
            raise NotFound("Remote media not found") from None
        raise RemoteMediaUnavailable(f"{origin} answered {error.status}") from None
    except UnknownServer:
        raise NotFound("Remote media not found: its server does not exist") from None
    except ResponseTooLarge:
        raise TooLarge(f"Remote media is larger than {max_bytes} bytes", status=502) from None
    except (FederationError, MalformedMultipart) as error:
        logger.info("fetching from %s failed: %s", origin, error)
        raise RemoteMediaUnavailable(f"Failed to fetch remote media from {origin}") from None
    if len(content) > max_bytes:
        # Synapse's answer too: the gateway (we) refused what the origin sent.
        raise TooLarge(f"Remote media is larger than {max_bytes} bytes", status=502)
    return content, content_type, name


def fetch_remote_media(context: TaskContext, *, origin: str, media_id: str) -> dict[str, Any]:
    """Have ``mxc://origin/media_id`` in the cache; returns its type, length and name. NotFound when the origin
    has no such media, M_TOO_LARGE past ``max_upload_size``, 502 when the origin cannot be asked."""
    assert context.federation_client is not None, "a process running the media queue builds its federation client"
    stores = context.stores.remote_media
    with context.single_flight.hold(context.database, f"{origin}/{media_id}"):
        with context.database.read() as conn:
            cached = stores.get_media(conn, origin, media_id)
        if cached is not None:
            return _describe(cached)
        max_bytes, client = context.config.media.max_upload_size, context.federation_client
        content, content_type, upload_name = _fetched(
            origin, lambda: _download(client, origin, media_id, max_bytes), max_bytes)
        storage, key = media_storage(context.config.media), remote_content_key(origin, media_id)
        now = context.clock.now_ms()
        with storage.stage() as staged:
            staged.write(content)
            media = RemoteMedia(origin, media_id, content_type, staged.length, upload_name, staged.sha256, now, now)
            storage.commit(staged, key)
        try:
            with context.database.write() as conn:
                stores.upsert_media(conn, media)
        except Exception:
            storage.delete(key)
            raise
        return _describe(media)


def fetch_remote_thumbnail(context: TaskContext, *, origin: str, media_id: str, width: int, height: int,
                           method: str) -> dict[str, Any]:
    """Have the origin's thumbnail of ``mxc://origin/media_id`` at this size and method in the cache; returns its
    content type and length. Errors as :func:`fetch_remote_media`."""
    assert context.federation_client is not None, "a process running the media queue builds its federation client"
    stores = context.stores.remote_media
    key = remote_thumbnail_key(origin, media_id, width, height, method)
    with context.single_flight.hold(context.database, key):
        with context.database.read() as conn:
            cached = stores.get_thumbnail(conn, origin, media_id, width, height, method)
        if cached is not None:
            return {"content_type": cached.content_type, "length": cached.length}
        max_bytes, client = context.config.media.max_upload_size, context.federation_client
        query = {"width": str(width), "height": str(height), "method": method}
        content, content_type, _ = _fetched(
            origin, lambda: _download(client, origin, media_id, max_bytes, "thumbnail", query), max_bytes)
        storage = media_storage(context.config.media)
        with storage.stage() as staged:
            staged.write(content)
            thumbnail = RemoteThumbnail(content_type, staged.length)
            storage.commit(staged, key)
        try:
            with context.database.write() as conn:
                stores.upsert_thumbnail(conn, origin, media_id, width, height, method, thumbnail,
                                        context.clock.now_ms())
        except Exception:
            storage.delete(key)
            raise
        return {"content_type": thumbnail.content_type, "length": thumbnail.length}


TASKS = (
    TaskSpec(FETCH_REMOTE_MEDIA, family="media", body=fetch_remote_media, returns_result=True),
    TaskSpec(FETCH_REMOTE_THUMBNAIL, family="media", body=fetch_remote_thumbnail, returns_result=True),
)
