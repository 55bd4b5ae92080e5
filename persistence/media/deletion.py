"""Deleting local media, and other servers' media from our cache: rows first (from then on nothing serves it),
then files."""

from __future__ import annotations

from persistence.database import Database
from persistence.media.storage import (
    MediaStorage,
    content_key,
    remote_content_key,
    remote_thumbnail_key,
    thumbnail_key,
)
from persistence.stores.media import MediaStore
from persistence.stores.remote_media import CachedThumbnail, RemoteMediaStore

PURGE_BATCH = 500


def delete_local_media(database: Database, store: MediaStore, storage: MediaStorage, media_id: str) -> bool:
    """Remove ``media_id`` with its thumbnails; returns whether it existed. A crash between the two steps leaves
    only unreferenced files, never a row without its file."""
    with database.write() as conn:
        thumbnails = store.list_thumbnails(conn, media_id)
        existed = store.delete_media(conn, media_id)
    for spec in thumbnails:
        storage.delete(thumbnail_key(media_id, spec.width, spec.height, spec.method, spec.content_type))
    storage.delete(content_key(media_id))
    return existed


def purge_remote_media(database: Database, store: RemoteMediaStore, storage: MediaStorage, before_ts: int) -> int:
    """Drop cached copies of other servers' media not accessed since ``before_ts``, and thumbnails fetched before
    it (a later request fetches them again); returns how many media. Same order as :func:`delete_local_media`: a
    crash leaves files, never rows."""
    purged = 0
    while True:
        with database.read() as conn:
            doomed = store.list_unused_since(conn, before_ts, PURGE_BATCH)
        for origin, media_id in doomed:
            with database.write() as conn:
                thumbnails = store.list_thumbnails(conn, origin, media_id)
                existed = store.delete_media(conn, origin, media_id)
            _delete_thumbnail_files(storage, thumbnails)
            storage.delete(remote_content_key(origin, media_id))
            purged += existed
        if len(doomed) < PURGE_BATCH:
            break
    # Thumbnails are fetched on their own, without the original: old ones go by their own fetch time.
    while True:
        with database.write() as conn:
            thumbnails = store.list_thumbnails_fetched_before(conn, before_ts, PURGE_BATCH)
            for thumbnail in thumbnails:
                store.delete_thumbnail(conn, thumbnail)
        _delete_thumbnail_files(storage, thumbnails)
        if len(thumbnails) < PURGE_BATCH:
            return purged


def _delete_thumbnail_files(storage: MediaStorage, thumbnails: list[CachedThumbnail]) -> None:
    for spec in thumbnails:
        storage.delete(remote_thumbnail_key(spec.media_origin, spec.media_id, spec.width, spec.height, spec.method))
