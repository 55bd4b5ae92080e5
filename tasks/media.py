"""The ``media`` queue (``media_instance_running_background_jobs``, else the main process while it serves the
media repository): thumbnails made after an upload, and the periodic clean-up of media nobody needs any more."""

from __future__ import annotations

import logging

from persistence.media.deletion import delete_local_media, purge_remote_media
from persistence.media.storage import media_storage
from persistence.media.thumbnailer import CannotThumbnail, ImageTooLarge
from persistence.media.thumbnails import Thumbnails
from tasks.api import GENERATE_THUMBNAILS
from tasks.context import TaskContext
from tasks.registry import TaskSpec

logger = logging.getLogger(__name__)

FAMILY = "media"
APPLY_RETENTION = "media.apply_retention"
RETENTION_BATCH = 500
"""Media one clean-up run deletes at most; the next run continues."""


def generate_thumbnails(context: TaskContext, *, media_id: str) -> int:
    """Make the configured thumbnails of ``media_id``; returns how many it has. Safe to run twice: each thumbnail
    is recorded once (``persistence.media.thumbnails``)."""
    with context.database.read() as conn:
        media = context.stores.media.get_media(conn, media_id)
    if media is None or not media.uploaded:
        return 0
    thumbnails = Thumbnails(context.config.media, context.database, context.stores.media,
                            media_storage(context.config.media))
    try:
        return thumbnails.pregenerate(media)
    except (CannotThumbnail, ImageTooLarge) as error:
        logger.info("no thumbnails for %s: %s", media_id, error)
        return 0


def apply_retention(context: TaskContext) -> int:
    """Delete created URIs whose upload window closed, and with ``media_retention.local_media_lifetime`` local media
    not used within it (never protected or quarantined media); with ``remote_media_lifetime``, cached remote media
    not used within it. Returns how many were deleted."""
    config = context.config.media
    now = context.clock.now_ms()
    with context.database.read() as conn:
        doomed = context.stores.media.list_abandoned(conn, now, RETENTION_BATCH)
        if config.local_media_lifetime_ms is not None:
            doomed += context.stores.media.list_unused_since(conn, now - config.local_media_lifetime_ms,
                                                             RETENTION_BATCH)
    storage = media_storage(config)
    deleted = sum(delete_local_media(context.database, context.stores.media, storage, media_id)
                  for media_id in doomed)
    if config.remote_media_lifetime_ms is not None:
        deleted += purge_remote_media(context.database, context.stores.remote_media, storage,
                                      now - config.remote_media_lifetime_ms)
    return deleted


TASKS = (
    TaskSpec(GENERATE_THUMBNAILS, family=FAMILY, body=generate_thumbnails),
    TaskSpec(APPLY_RETENTION, family=FAMILY, body=apply_retention),
)

SCHEDULE_SECONDS = {APPLY_RETENTION: 3600.0}
"""The media queue's periodic jobs (sent by beat, like the background ones)."""
