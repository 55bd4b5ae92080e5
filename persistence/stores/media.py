"""The media repository's rows: local uploads (complete or awaiting their content) and their thumbnails."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from persistence.tables import local_media, local_media_thumbnails
from protocol.media import ThumbnailSpec


@dataclass(frozen=True)
class LocalMedia:
    media_id: str
    user_id: str | None
    created_ts: int
    media_length: int | None
    media_type: str | None
    upload_name: str | None
    sha256: str | None
    unused_expires_ts: int | None
    last_access_ts: int | None
    authenticated: bool
    quarantined_by: str | None
    safe_from_quarantine: bool

    @property
    def uploaded(self) -> bool:
        return self.media_length is not None


@dataclass(frozen=True)
class UploadedContent:
    media_type: str
    upload_name: str | None
    media_length: int
    sha256: str


def _media(row: object) -> LocalMedia:
    return LocalMedia(**{column.name: getattr(row, column.name) for column in local_media.columns})


class MediaStore:
    def insert_media(self, conn: Connection, media_id: str, user_id: str, now_ms: int, *, authenticated: bool,
                     content: UploadedContent | None, unused_expires_ts: int | None = None) -> None:
        """A new upload (``content``), or an ``mxc://`` URI created ahead of its content (``content`` None)."""
        values = {"media_type": content.media_type, "upload_name": content.upload_name,
                  "media_length": content.media_length, "sha256": content.sha256} if content else {}
        # Values as parameters, not ``.values(...)``: that builds (and cache-keys) a new statement per upload,
        # a fifth of an upload's CPU in the monolith.
        conn.execute(insert(local_media), {
            "media_id": media_id, "user_id": user_id, "created_ts": now_ms, "unused_expires_ts": unused_expires_ts,
            "last_access_ts": now_ms, "authenticated": authenticated, "safe_from_quarantine": False, **values})

    def update_uploaded(self, conn: Connection, media_id: str, content: UploadedContent, now_ms: int) -> bool:
        """Fill in a created URI's content; False when it already has some. The row stays locked until the
        transaction ends, so of two concurrent uploads exactly one sees True."""
        result = conn.execute(
            update(local_media)
            .where(local_media.c.media_id == media_id, local_media.c.media_length.is_(None))
            .values(media_type=content.media_type, upload_name=content.upload_name,
                    media_length=content.media_length, sha256=content.sha256, unused_expires_ts=None,
                    last_access_ts=now_ms))
        return bool(result.rowcount)

    def get_media(self, conn: Connection, media_id: str) -> LocalMedia | None:
        row = conn.execute(select(local_media).where(local_media.c.media_id == media_id)).first()
        return _media(row) if row else None

    def count_pending(self, conn: Connection, user_id: str, now_ms: int) -> int:
        """Created URIs of ``user_id`` still waiting for content and not expired (spec: "pending media uploads")."""
        return int(conn.execute(
            select(func.count()).select_from(local_media)
            .where(local_media.c.user_id == user_id, local_media.c.media_length.is_(None),
                   local_media.c.unused_expires_ts > now_ms)).scalar_one())

    def sum_uploaded_since(self, conn: Connection, user_id: str, since_ms: int) -> int:
        return int(conn.execute(
            select(func.coalesce(func.sum(local_media.c.media_length), 0))
            .where(local_media.c.user_id == user_id, local_media.c.created_ts >= since_ms)).scalar_one())

    def update_last_access(self, conn: Connection, media_ids: Iterable[str], now_ms: int) -> None:
        ids = list(media_ids)
        if ids:
            conn.execute(update(local_media).where(local_media.c.media_id.in_(ids)).values(last_access_ts=now_ms))

    def list_user_media(self, conn: Connection, user_id: str, *, offset: int, limit: int, order_by: str,
                        descending: bool) -> list[LocalMedia]:
        column = local_media.c[order_by]
        order = (column.desc(), local_media.c.media_id.desc()) if descending else (column, local_media.c.media_id)
        rows = conn.execute(select(local_media).where(local_media.c.user_id == user_id)
                            .order_by(*order).offset(offset).limit(limit)).all()
        return [_media(row) for row in rows]

    def count_user_media(self, conn: Connection, user_id: str) -> int:
        return int(conn.execute(select(func.count()).select_from(local_media)
                                .where(local_media.c.user_id == user_id)).scalar_one())

    def list_existing(self, conn: Connection, media_ids: Iterable[str]) -> list[LocalMedia]:
        ids = list(media_ids)
        if not ids:
            return []
        return [_media(row) for row in conn.execute(select(local_media).where(local_media.c.media_id.in_(ids)))]

    def list_unused_since(self, conn: Connection, before_ms: int, limit: int) -> list[str]:
        """Complete media last used before ``before_ms`` that may be let go (``media_retention``, the admin purge):
        neither protected nor quarantined (quarantined media is kept for the admins who quarantined it)."""
        rows = conn.execute(
            select(local_media.c.media_id)
            .where(local_media.c.media_length.is_not(None),
                   func.coalesce(local_media.c.last_access_ts, local_media.c.created_ts) < before_ms,
                   local_media.c.safe_from_quarantine.is_(False), local_media.c.quarantined_by.is_(None))
            .order_by(local_media.c.media_id).limit(limit))
        return [row.media_id for row in rows]

    def list_abandoned(self, conn: Connection, now_ms: int, limit: int) -> list[str]:
        """Created ``mxc://`` URIs whose upload window closed without content."""
        rows = conn.execute(
            select(local_media.c.media_id)
            .where(local_media.c.media_length.is_(None), local_media.c.unused_expires_ts <= now_ms)
            .order_by(local_media.c.media_id).limit(limit))
        return [row.media_id for row in rows]

    def update_quarantined(self, conn: Connection, media_ids: Iterable[str], quarantined_by: str | None) -> int:
        """Quarantine (or release, with None) media; protected media is never quarantined. Returns how many."""
        ids = list(media_ids)
        if not ids:
            return 0
        query = update(local_media).where(local_media.c.media_id.in_(ids))
        if quarantined_by is not None:
            query = query.where(local_media.c.safe_from_quarantine.is_(False))
        return conn.execute(query.values(quarantined_by=quarantined_by)).rowcount or 0

    def update_protected(self, conn: Connection, media_id: str, protected: bool) -> bool:
        result = conn.execute(update(local_media).where(local_media.c.media_id == media_id)
                              .values(safe_from_quarantine=protected))
        return bool(result.rowcount)

    def delete_media(self, conn: Connection, media_id: str) -> bool:
        # The media row first: its row lock waits for a thumbnail being recorded (:meth:`lock_media`), so the
        # thumbnails deleted next include that one (each statement sees what committed before it).
        deleted = bool(conn.execute(delete(local_media).where(local_media.c.media_id == media_id)).rowcount)
        conn.execute(delete(local_media_thumbnails).where(local_media_thumbnails.c.media_id == media_id))
        return deleted

    def lock_media(self, conn: Connection, media_id: str) -> bool:
        """Whether the media still exists, holding it (PostgreSQL ``FOR SHARE``) until the transaction ends so a
        deletion cannot pass between this check and a thumbnail row recorded for it. SQLite serialises writers."""
        found = conn.execute(select(local_media.c.media_id).where(local_media.c.media_id == media_id)
                             .with_for_update(read=True)).first()
        return found is not None

    # --- thumbnails ----------------------------------------------------------------------------------------------

    def list_thumbnails(self, conn: Connection, media_id: str) -> list[ThumbnailSpec]:
        rows = conn.execute(select(local_media_thumbnails).where(local_media_thumbnails.c.media_id == media_id)
                            .order_by(local_media_thumbnails.c.width, local_media_thumbnails.c.height))
        return [ThumbnailSpec(row.width, row.height, row.method, row.content_type) for row in rows]

    def insert_thumbnail(self, conn: Connection, media_id: str, spec: ThumbnailSpec, length: int) -> bool:
        """Record a thumbnail; False (and nothing changed) when the same one is already recorded."""
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        result = conn.execute(dialect.insert(local_media_thumbnails).values(
            media_id=media_id, width=spec.width, height=spec.height, method=spec.method,
            content_type=spec.content_type, length=length).on_conflict_do_nothing())
        return bool(result.rowcount)
