"""Missed-message email throttles per (user, room): when a room last started an email, and how long it must wait
before it may start another (``tasks/email_pushers.py`` decides; this only stores)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from persistence.tables import email_throttles


@dataclass(frozen=True)
class EmailThrottle:
    last_sent_ts: int
    throttle_ms: int

    @property
    def ready_at(self) -> int:
        return self.last_sent_ts + self.throttle_ms


class EmailThrottleStore:
    def list_throttles(self, conn: Connection, user_id: str, room_ids: Collection[str]) -> dict[str, EmailThrottle]:
        if not room_ids:
            return {}
        table = email_throttles
        rows = conn.execute(select(table.c.room_id, table.c.last_sent_ts, table.c.throttle_ms)
                            .where(table.c.user_id == user_id, table.c.room_id.in_(sorted(room_ids))))
        return {row.room_id: EmailThrottle(int(row.last_sent_ts), int(row.throttle_ms)) for row in rows}

    def upsert_throttle(self, conn: Connection, user_id: str, room_id: str, throttle: EmailThrottle) -> None:
        values = {"last_sent_ts": throttle.last_sent_ts, "throttle_ms": throttle.throttle_ms}
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(email_throttles).values(user_id=user_id, room_id=room_id, **values)
                     .on_conflict_do_update(index_elements=["user_id", "room_id"], set_=values))
