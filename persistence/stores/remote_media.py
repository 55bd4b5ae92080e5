"""Other servers' media cached here (the remote half of the media repository): one row per complete file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, or_, select, update

from persistence.tables import remote_media_cache, remote_media_thumbnails
from persistence.upsert import upsert


@dataclass(frozen=True)
class RemoteMedia:
    media_origin: str
    media_id: str
    media_type: str
    media_length: int
    upload_name: str | None
    sha256: str
    created_ts: int
    last_access_ts: int


@dataclass(frozen=True)
class CachedThumbnail:
    """Where a cached thumbnail's file is (its size and method name it)."""

    media_origin: str
    media_id: str
    width: int
    height: int
    method: str


@dataclass(frozen=True)
class RemoteThumbnail:
    """A thumbnail the origin made for one requested size and method."""

    content_type: str
    length: int


class RemoteMediaStore:
    def get_media(self, conn: Connection, origin: str, media_id: str) -> RemoteMedia | None:
        row = conn.execute(select(remote_media_cache).where(remote_media_cache.c.media_origin == origin,
                                                            remote_media_cache.c.media_id == media_id)).one_or_none()
        if row is None:
            return None
        return RemoteMedia(**{column.name: getattr(row, column.name) for column in remote_media_cache.columns})

    def upsert_media(self, conn: Connection, media: RemoteMedia) -> None:
        """Record a fetched file; a second fetch of the same media (two servers raced) keeps the newest row."""
        values = {key: value for key, value in media.__dict__.items() if key not in ("media_origin", "media_id")}
        upsert(conn, remote_media_cache, {"media_origin": media.media_origin, "media_id": media.media_id}, values)

    def update_last_access(self, conn: Connection, origin: str, media_id: str, now_ms: int) -> None:
        conn.execute(update(remote_media_cache).where(remote_media_cache.c.media_origin == origin,
                                                      remote_media_cache.c.media_id == media_id)
                     .values(last_access_ts=now_ms))

    def get_thumbnail(self, conn: Connection, origin: str, media_id: str, width: int, height: int,
                      method: str) -> RemoteThumbnail | None:
        table = remote_media_thumbnails
        row = conn.execute(select(table.c.content_type, table.c.length).where(
            table.c.media_origin == origin, table.c.media_id == media_id, table.c.width == width,
            table.c.height == height, table.c.method == method)).one_or_none()
        return None if row is None else RemoteThumbnail(str(row.content_type), int(row.length))

    def upsert_thumbnail(self, conn: Connection, origin: str, media_id: str, width: int, height: int, method: str,
                         thumbnail: RemoteThumbnail, now_ms: int) -> None:
        upsert(conn, remote_media_thumbnails, {"media_origin": origin, "media_id": media_id, "width": width,
                                               "height": height, "method": method},
               {"content_type": thumbnail.content_type, "length": thumbnail.length, "created_ts": now_ms})

    def list_unused_since(self, conn: Connection, before_ts: int, limit: int) -> list[tuple[str, str]]:
        """(origin, media id) of cached media last accessed before ``before_ts``, least recent first."""
        table = remote_media_cache
        rows = conn.execute(select(table.c.media_origin, table.c.media_id).where(table.c.last_access_ts < before_ts)
                            .order_by(table.c.last_access_ts).limit(limit))
        return [(str(row.media_origin), str(row.media_id)) for row in rows]

    def list_thumbnails(self, conn: Connection, origin: str, media_id: str) -> list[CachedThumbnail]:
        table = remote_media_thumbnails
        return _thumbnails(conn, select(table).where(table.c.media_origin == origin, table.c.media_id == media_id))

    def list_thumbnails_fetched_before(self, conn: Connection, before_ts: int, limit: int) -> list[CachedThumbnail]:
        """Thumbnails fetched before ``before_ts`` (or before fetch times were kept), whatever their original."""
        table = remote_media_thumbnails
        return _thumbnails(conn, select(table).where(or_(table.c.created_ts.is_(None),
                                                         table.c.created_ts < before_ts)).limit(limit))

    def delete_thumbnail(self, conn: Connection, thumbnail: CachedThumbnail) -> None:
        table = remote_media_thumbnails
        conn.execute(delete(table).where(table.c.media_origin == thumbnail.media_origin,
                                         table.c.media_id == thumbnail.media_id, table.c.width == thumbnail.width,
                                         table.c.height == thumbnail.height, table.c.method == thumbnail.method))

    def delete_media(self, conn: Connection, origin: str, media_id: str) -> bool:
        """Forget a cached file and its thumbnails; whether it was cached."""
        conn.execute(delete(remote_media_thumbnails).where(remote_media_thumbnails.c.media_origin == origin,
                                                           remote_media_thumbnails.c.media_id == media_id))
        deleted = conn.execute(delete(remote_media_cache).where(remote_media_cache.c.media_origin == origin,
                                                                remote_media_cache.c.media_id == media_id))
        return bool(deleted.rowcount)


def _thumbnails(conn: Connection, query: Any) -> list[CachedThumbnail]:
    return [CachedThumbnail(str(row.media_origin), str(row.media_id), int(row.width), int(row.height),
                            str(row.method)) for row in conn.execute(query)]
