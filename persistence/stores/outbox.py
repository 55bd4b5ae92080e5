"""The outbox: follow-up work committed with the change that causes it (DESIGN.md guarantee 3).

The task owning a (family, key) drains its rows in id order inside its own transaction; rows are deleted in
that same transaction, so a crash either keeps them for the redelivered task or removes them with the work done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from persistence.tables import outbox


@dataclass(frozen=True)
class OutboxItem:
    id: int
    payload: dict[str, Any]


class OutboxStore:
    def insert_item(self, conn: Connection, family: str, key: str, payload: dict[str, Any], now_ms: int) -> None:
        conn.execute(insert(outbox).values(family=family, shard_key=key, payload=payload, created_ts=now_ms))

    def list_items(self, conn: Connection, family: str, key: str, *, lock: bool) -> list[OutboxItem]:
        """Pending items for one key, oldest first; ``lock`` takes row locks on PostgreSQL."""
        query = (
            select(outbox.c.id, outbox.c.payload)
            .where(outbox.c.family == family, outbox.c.shard_key == key)
            .order_by(outbox.c.id)
        )
        if lock:
            query = query.with_for_update()
        return [OutboxItem(row.id, row.payload) for row in conn.execute(query)]

    def delete_items(self, conn: Connection, ids: list[int]) -> None:
        if ids:
            conn.execute(delete(outbox).where(outbox.c.id.in_(ids)))

    def list_stale_keys(self, conn: Connection, family: str, created_before_ms: int) -> list[str]:
        """Keys with items older than a deadline: their poke was lost, so a sweeper pokes them again."""
        query = (
            select(outbox.c.shard_key)
            .where(outbox.c.family == family, outbox.c.created_ts < created_before_ms)
            .group_by(outbox.c.shard_key)
        )
        return [row.shard_key for row in conn.execute(query)]
