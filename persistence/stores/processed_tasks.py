"""The task ledger's rows (``tasks/ledger.py`` holds the design): which task ids have a fixed outcome.

A row is written at most once per task id: the insert that wins the primary key decides the outcome, and every
later insert for the same id (a redelivery, a replay, the web tier giving up too late) finds it and does nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from persistence.tables import processed_tasks

DONE = "done"
FAILED = "failed"
REFUSED = "refused"


@dataclass(frozen=True)
class TaskOutcome:
    outcome: str
    """``done``, ``failed`` or ``refused``."""
    envelope: dict[str, Any] | None
    """What the task answered (``{"ok": ...}`` or ``{"error": ...}``); None when refused."""


class ProcessedTaskStore:
    def get_outcome(self, conn: Connection, task_id: str) -> TaskOutcome | None:
        row = conn.execute(select(processed_tasks.c.outcome, processed_tasks.c.envelope)
                           .where(processed_tasks.c.task_id == task_id)).first()
        if row is None:
            return None
        return TaskOutcome(row.outcome, json.loads(row.envelope) if row.envelope is not None else None)

    def insert_outcome(self, conn: Connection, task_id: str, task_name: str, outcome: str,
                       envelope: dict[str, Any] | None, now_ms: int) -> bool:
        """Fix ``task_id``'s outcome unless it already has one; answers whether this call fixed it. On PostgreSQL
        an insert racing an uncommitted one for the same id waits for that transaction, so exactly one wins."""
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(processed_tasks).values(
            task_id=task_id, task_name=task_name, outcome=outcome, recorded_ts=now_ms,
            envelope=None if envelope is None else json.dumps(envelope, separators=(",", ":")))
        result = conn.execute(statement.on_conflict_do_nothing(index_elements=["task_id"]))
        return bool(result.rowcount)

    def delete_recorded_before(self, conn: Connection, before_ms: int) -> int:
        """Forget outcomes older than the replay window (messages that old are dropped before they get here)."""
        return conn.execute(delete(processed_tasks).where(processed_tasks.c.recorded_ts < before_ms)).rowcount
