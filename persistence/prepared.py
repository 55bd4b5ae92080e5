"""Statements prepared once per connection on PostgreSQL, for the transactions that ask for it (the events writer's).

psycopg2 sends every statement as text, which PostgreSQL parses and plans anew each time: for the events writer's
short lookups and inserts that is most of the backend's work (bench/README.md, "Group commit": 57 µs of backend
CPU for the events lookup by id, 20 µs once prepared). A connection opened with :data:`PREPARED` set
(``conn.execution_options(**{PREPARED: True})``) sends each statement it has not prepared yet as
``PREPARE`` once, then as ``EXECUTE name(values)``, which psycopg2 fills in as it fills in any statement.

The rewrite happens where SQLAlchemy hands the SQL to the driver (``do_execute``, after every
``before_cursor_execute`` listener saw it as written), so stores stay plain SQLAlchemy Core. A prepared statement
lives as long as its connection (``ConnectionRecord.info`` remembers which this connection holds; a connection
replaced after a disconnect starts empty). Sent as they are: anything but
SELECT, INSERT, UPDATE and DELETE (SAVEPOINT and the like), ``executemany``, SQL with a literal ``%``, and a
statement PostgreSQL refuses to prepare (the attempt runs in a savepoint, so the transaction goes on; only write
transactions may ask, as a savepoint needs a transaction block). At most :data:`MAX_STATEMENTS` distinct texts
are prepared per process (``IN`` lists of every length are distinct texts), so a connection's memory stays
bounded.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from sqlalchemy import Engine, event

PREPARED = "ganglion_prepared"
"""The execution option that asks for prepared statements on a connection."""

MAX_STATEMENTS = 256
_PARAMETER = re.compile(r"%\((\w+)\)s")
_SAVEPOINT = "ganglion_prepare"
_PREPARABLE = ("SELECT", "INSERT", "UPDATE", "DELETE")


class _Catalogue:
    """Process-wide: SQL text -> (statement name, parameter names in ``$n`` order), or None if it cannot be."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[str, tuple[str, tuple[str, ...]] | None] = {}

    def lookup(self, statement: str) -> tuple[str, tuple[str, ...]] | None:
        with self._lock:
            if statement in self._known:
                return self._known[statement]
            if (len(self._known) >= MAX_STATEMENTS or "%%" in statement
                    or statement.lstrip()[:6].upper() not in _PREPARABLE):
                return None
            names = tuple(dict.fromkeys(_PARAMETER.findall(statement)))
            entry = (f"ganglion_{len(self._known)}", names)
            self._known[statement] = entry
            return entry

    def refuse(self, statement: str) -> None:
        with self._lock:
            self._known[statement] = None


def use_prepared_statements(engine: Engine) -> None:
    """Prepare the statements of connections that ask for it (:data:`PREPARED`) on ``engine`` (PostgreSQL)."""
    catalogue = _Catalogue()

    @event.listens_for(engine, "do_execute")
    def _execute(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
        """Send the statement prepared, and answer True (done), or False for SQLAlchemy to send it as it is."""
        if context is None or not context.execution_options.get(PREPARED) or not isinstance(parameters, dict):
            return False
        entry = catalogue.lookup(statement)
        if entry is None:
            return False
        name, names = entry
        prepared: set[str] = context.root_connection.connection.info.setdefault(PREPARED, set())
        if name not in prepared:
            if not _prepare(cursor, name, names, statement, context.dialect.loaded_dbapi.Error):
                catalogue.refuse(statement)
                return False
            prepared.add(name)
        values = ", ".join(f"%({parameter})s" for parameter in names)
        cursor.execute(f"EXECUTE {name}({values})" if names else f"EXECUTE {name}", parameters)
        return True


def _prepare(cursor: Any, name: str, names: tuple[str, ...], statement: str,
             refused: type[Exception]) -> bool:
    """``PREPARE`` ``statement`` as ``name`` on the cursor's connection, inside a savepoint: a refusal (a parameter
    whose type PostgreSQL cannot infer) rolls back to it and leaves the caller's transaction usable."""
    numbers = {parameter: f"${index}" for index, parameter in enumerate(names, start=1)}
    body = _PARAMETER.sub(lambda match: numbers[match.group(1)], statement)
    cursor.execute(f"SAVEPOINT {_SAVEPOINT}")
    try:
        cursor.execute(f"PREPARE {name} AS {body}")
    except refused:  # the driver's error, whatever PostgreSQL's reason
        cursor.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        return False
    cursor.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
    return True
