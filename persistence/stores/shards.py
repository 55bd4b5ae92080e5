"""Shard maps and fences of live resharding (``tasks/resharding.py`` holds the design).

A family's maps form a history by epoch; a change appends the next epoch and never rewrites an old one, so any
process can tell who owned a key under any epoch a message was routed with. A fence only moves forward.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Connection, case, select
from sqlalchemy.dialects import postgresql, sqlite

from persistence.tables import shard_fences, shard_maps


class ShardStore:
    def list_maps(self, conn: Connection) -> dict[str, list[tuple[int, tuple[str, ...]]]]:
        """family -> [(epoch, instances)] in epoch order, for every family that was ever resharded."""
        rows = conn.execute(select(shard_maps.c.family, shard_maps.c.epoch, shard_maps.c.instances)
                            .order_by(shard_maps.c.family, shard_maps.c.epoch))
        found: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
        for row in rows:
            found.setdefault(row.family, []).append((int(row.epoch), tuple(json.loads(row.instances))))
        return found

    def insert_map(self, conn: Connection, family: str, epoch: int, instances: Sequence[str], now_ms: int) -> None:
        """Append ``epoch``; two concurrent changes of one family collide on the primary key, and one fails."""
        conn.execute(shard_maps.insert().values(family=family, epoch=epoch, instances=json.dumps(list(instances)),
                                                created_ts=now_ms))

    def get_fences(self, conn: Connection, family: str) -> dict[str, int]:
        rows = conn.execute(select(shard_fences.c.instance, shard_fences.c.epoch)
                            .where(shard_fences.c.family == family))
        return {row.instance: int(row.epoch) for row in rows}

    def upsert_fence(self, conn: Connection, family: str, instance: str, epoch: int) -> None:
        """Record that ``instance`` passed the fence of ``epoch`` for ``family``; never moves back."""
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(shard_fences).values(family=family, instance=instance, epoch=epoch)
        newer = statement.excluded.epoch
        conn.execute(statement.on_conflict_do_update(
            index_elements=["family", "instance"],
            set_={"epoch": case((shard_fences.c.epoch > newer, shard_fences.c.epoch), else_=newer)}))
