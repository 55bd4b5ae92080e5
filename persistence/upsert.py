"""INSERT ... ON CONFLICT DO UPDATE for both dialects, so stores write one upsert, not two."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def upsert(conn: Connection, table: Table, keys: dict[str, Any], values: dict[str, Any],
           *, set_: dict[str, Any] | None = None) -> None:
    """Insert ``keys + values``, or on a key conflict update ``set_`` (default: ``values``)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**keys, **values)
    conn.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=set_ if set_ is not None else values))
