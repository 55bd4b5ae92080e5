"""Recording the SQL a piece of code sends: how tests prove a read costs the same queries whatever its size."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from persistence.database import Database


@contextmanager
def recorded_statements(database: Database) -> Iterator[list[str]]:
    """Every statement executed on ``database``'s engine inside the block, in order."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
