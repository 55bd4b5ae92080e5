"""Deleting local media: its rows first (from then on nothing serves it), then its files."""

from __future__ import annotations

from persistence.database import Database
from persistence.media.storage import MediaStorage, content_key, thumbnail_key
from persistence.stores.media import MediaStore


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
