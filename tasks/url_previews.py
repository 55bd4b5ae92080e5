"""URL previews on the media queue (``url_preview_enabled``): fetch the page (``tasks/safe_fetch.py``), read its
Open Graph data, and keep its image as local media so clients load it from us, never from the linked site.

The web tier calls this task and waits: all outbound traffic runs in tasks (DESIGN.md), on the instance named by
``media_instance_running_background_jobs``.
"""

from __future__ import annotations

import io
import logging
import secrets
from typing import Any

from persistence.media.records import keep_if_recorded
from persistence.media.storage import content_key, media_storage
from persistence.media.thumbnailer import CannotThumbnail, ImageTooLarge, inspect_image
from persistence.stores.media import UploadedContent
from protocol.errors import Forbidden, MatrixError, NotFound
from protocol.media import base_content_type, mxc_uri
from protocol.url_preview import charset_of, open_graph
from tasks.api import GENERATE_THUMBNAILS, PREVIEW_URL
from tasks.context import TaskContext
from tasks.registry import TaskSpec
from tasks.safe_fetch import Fetched, FetchFailed, FetchRefused, SafeFetcher

logger = logging.getLogger(__name__)
MEDIA_ID_BYTES = 18


class PreviewFailed(MatrixError):
    """The linked site could not be fetched (502: the failure is upstream, not the client's request)."""

    status = 502


def _keep_image(context: TaskContext, fetched: Fetched, user_id: str) -> dict[str, Any]:
    """Store a fetched image as local media; the preview's ``og:image`` fields for it."""
    media_id = secrets.token_urlsafe(MEDIA_ID_BYTES)
    content_type = base_content_type(fetched.content_type or "application/octet-stream")
    storage = media_storage(context.config.media)
    with storage.stage() as staged:
        staged.write(fetched.body)
        content = UploadedContent(content_type, None, staged.length, staged.sha256)
        keep_if_recorded(context.database, storage, staged, content_key(media_id), lambda conn: (
            context.stores.media.insert_media(
                conn, media_id, user_id, context.clock.now_ms(),
                authenticated=context.config.media.enable_authenticated_media, content=content) or True))
    context.dispatcher.send(GENERATE_THUMBNAILS, media_id=media_id)
    image: dict[str, Any] = {"og:image": mxc_uri(context.config.server_name, media_id),
                             "og:image:type": content_type, "matrix:image:size": len(fetched.body)}
    try:
        source = inspect_image(io.BytesIO(fetched.body), context.config.media.max_image_pixels)
        image.update({"og:image:width": source.width, "og:image:height": source.height})
    except (CannotThumbnail, ImageTooLarge):
        pass
    return image


def preview_url(context: TaskContext, *, url: str, user_id: str) -> dict[str, Any]:
    """The preview of ``url`` for ``user_id``: Open Graph fields, its image as an ``mxc://`` URI."""
    config = context.config.media.url_preview
    if not config.enabled:
        raise NotFound("URL previews are disabled on this server")
    fetcher = SafeFetcher(config)
    try:
        page = fetcher.fetch(url)
    except FetchRefused as refused:
        raise Forbidden(f"Cannot preview this URL: {refused}") from None
    except FetchFailed as failed:
        raise PreviewFailed(f"Could not fetch the URL: {failed}") from None
    content_type = base_content_type(page.content_type or "")
    if content_type.startswith("image/"):
        return _keep_image(context, page, user_id)
    if content_type not in ("text/html", "application/xhtml+xml"):
        return {}
    preview: dict[str, Any] = open_graph(page.body.decode(charset_of(page.content_type), errors="replace"), page.url)
    image_url = preview.pop("og:image", None)
    if image_url:
        try:
            image = fetcher.fetch(image_url)
        except (FetchRefused, FetchFailed) as error:
            logger.info("preview of %s: no image (%s)", url, error)
        else:
            if base_content_type(image.content_type or "").startswith("image/"):
                preview.update(_keep_image(context, image, user_id))
    return preview


TASKS = (TaskSpec(PREVIEW_URL, family="media", body=preview_url, returns_result=True),)
