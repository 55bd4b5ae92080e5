"""Self-destructing events still to expire (MSC2228): recorded by the events writer as it stores one, read by
beat's sweep, and deleted by the room's events writer once it has pruned the event (``tasks/event_expiry.py``)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, delete, func, insert, select

from persistence.tables import event_expiry


class EventExpiryStore:
    def insert_expiry(self, conn: Connection, event_id: str, room_id: str, expiry_ts: int) -> None:
        conn.execute(insert(event_expiry).values(event_id=event_id, room_id=room_id, expiry_ts=expiry_ts))

    def list_rooms_with_due(self, conn: Connection, now_ms: int, limit: int) -> list[str]:
        """Rooms holding events due by ``now_ms``, those due longest first, at most ``limit``."""
        rows = conn.execute(
            select(event_expiry.c.room_id).where(event_expiry.c.expiry_ts <= now_ms)
            .group_by(event_expiry.c.room_id).order_by(func.min(event_expiry.c.expiry_ts)).limit(limit))
        return [row.room_id for row in rows]

    def list_due_in_room(self, conn: Connection, room_id: str, now_ms: int) -> list[str]:
        rows = conn.execute(select(event_expiry.c.event_id).where(
            event_expiry.c.room_id == room_id, event_expiry.c.expiry_ts <= now_ms).order_by(event_expiry.c.expiry_ts))
        return [row.event_id for row in rows]

    def delete_expiries(self, conn: Connection, event_ids: Iterable[str]) -> None:
        wanted = list(event_ids)
        if wanted:
            conn.execute(delete(event_expiry).where(event_expiry.c.event_id.in_(wanted)))
