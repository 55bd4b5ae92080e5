"""Serving this server's media to other servers (Server-Server API, "Content Repository", spec v1.11):
``/_matrix/federation/v1/media/download/{mediaId}`` and ``/thumbnail/{mediaId}``, X-Matrix authenticated, each a
two-part ``multipart/mixed`` body whose second part streams the stored file. Only local media is served here: a
server asks the media's own origin."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Response

from persistence.media.storage import StoredFile, content_key
from protocol.errors import NotFound
from protocol.federation.media import multipart_head, multipart_tail, new_boundary
from protocol.media import content_disposition, served_content_type
from web.deps import deps
from web.federation.auth import server_authenticated
from web.media.content import local_media, storage
from web.media.thumbnail import thumbnail_file, thumbnail_request

CHUNK = 64 * 1024


def _multipart(stored: StoredFile, content_type: str, disposition: str) -> Response:
    boundary = new_boundary()
    head, tail = multipart_head(boundary, content_type, disposition), multipart_tail(boundary)

    def body() -> Iterator[bytes]:
        try:
            yield head
            while chunk := stored.handle.read(CHUNK):
                yield chunk
            yield tail
        finally:
            stored.handle.close()

    response = Response(body(), direct_passthrough=True)
    response.headers["Content-Type"] = f"multipart/mixed; boundary={boundary}"
    response.headers["Content-Length"] = str(len(head) + stored.length + len(tail))
    return response


@server_authenticated
def download_media(media_id: str, *, origin: str) -> Response:
    current = deps()
    media = local_media(current, current.config.server_name, media_id, authenticated_endpoint=True)
    stored = storage(current).open(content_key(media.media_id))
    if stored is None:
        raise NotFound("Not found")
    content_type = served_content_type(media.media_type)
    return _multipart(stored, content_type, content_disposition(content_type, media.upload_name))


@server_authenticated
def thumbnail_media(media_id: str, *, origin: str) -> Response:
    current = deps()
    wanted = thumbnail_request()
    media = local_media(current, current.config.server_name, media_id, authenticated_endpoint=True)
    return _multipart(*thumbnail_file(current, media, wanted))
