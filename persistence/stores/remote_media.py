"""Other servers' media cached here (the remote half of the media repository): one row per complete file."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select, update

from persistence.tables import remote_media_cache
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
