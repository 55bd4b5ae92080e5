"""The task ledger (tasks/ledger.py): one row per task id whose outcome is fixed."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Table, Text

from persistence.tables.metadata import metadata

# ``outcome`` is ``done`` (the task's effects committed in the same transaction as this row; ``envelope`` is what it
# answered), ``failed`` (it answered an error, ``envelope`` holds it) or ``refused`` (the web tier gave up waiting
# and answered 503 first, or the message came too late: the task must never take effect).
processed_tasks = Table(
    "processed_tasks",
    metadata,
    Column("task_id", Text, primary_key=True),
    Column("task_name", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("envelope", Text, nullable=True),
    Column("recorded_ts", BigInteger, nullable=False),
    Index("processed_tasks_recorded_ts", "recorded_ts"),
)
