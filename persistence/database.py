"""One SQLAlchemy engine per process, tuned for its dialect, and the two ways to use it: read and write.

SQLite runs in WAL mode with a busy timeout, and write transactions start with ``BEGIN IMMEDIATE`` so two
writers queue on the lock instead of failing halfway with "database is locked". PostgreSQL uses a pool of up to
``database.args.cp_max`` connections, kept open once opened (Synapse's ``cp_min`` is accepted; nothing is
pre-opened) and not pinged before each use.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import StaticPool

from config.database import DatabaseConfig
from persistence.prepared import use_prepared_statements

SQLITE_BUSY_TIMEOUT_MS = 10_000


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so "begin" below decides DEFERRED vs IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class WriteHook(Protocol):
    """Something that takes part in every write transaction of a :meth:`Database.hooked` view: it may read or
    write in the transaction as it opens and just before it commits, and raise to roll it back."""

    def opened(self, conn: Connection) -> None: ...

    def committing(self, conn: Connection) -> None: ...


class Database:
    """The process's engine plus ``read()``/``write()`` transactions; the unit stores are called within."""

    _hook: WriteHook | None = None

    def __init__(self, config: DatabaseConfig) -> None:
        self.config = config
        self._sqlite_writer = threading.RLock()
        if config.is_sqlite:
            in_memory = config.url == "sqlite://"
            self.engine = create_engine(
                config.url,
                connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                poolclass=StaticPool if in_memory else None,
            )
            _configure_sqlite(self.engine)
        else:
            # Connections open as needed and stay open up to cp_max. SQLAlchemy closes an "overflow" connection
            # as soon as it is returned, so a pool of cp_min plus overflow opened and closed a PostgreSQL
            # connection (a backend process start, its catalog caches cold) for nearly every request above
            # cp_min in flight: a web worker's send burst spent a fifth of its CPU on that (bench/README.md).
            # No pre-ping: it cost a round trip on every checkout, i.e. every transaction (under load, waiting on
            # those was most of a send). A connection PostgreSQL dropped (a restart, a failover) fails its first
            # statement instead; SQLAlchemy sees the disconnect, invalidates it and every older connection of the
            # pool, and that request answers 503 (web/errors.py) while the next ones connect afresh.
            self.engine = create_engine(
                config.url,
                pool_size=max(config.pool_max, 1),
                max_overflow=0,
                pool_recycle=3600,
            )
            use_prepared_statements(self.engine)

    @property
    def is_sqlite(self) -> bool:
        return self.config.is_sqlite

    def hooked(self, hook: WriteHook) -> Database:
        """The same engine, whose write transactions also run ``hook`` (the task ledger records a task's id in the
        transaction of its effects this way, whichever store the task body calls)."""
        view = copy.copy(self)
        view._hook = hook
        return view

    def unhooked(self) -> Database:
        """The same engine without this view's hook: for a transaction that several hooked views then join."""
        view = copy.copy(self)
        view._hook = None
        return view

    @contextmanager
    def joined(self, conn: Connection) -> Iterator[Connection]:
        """Take part in a write transaction someone else opened (``tasks/group_commit.py``) as if it were this
        view's own: its hook runs as the part begins and just before it ends, inside it."""
        yield from self._hooked_transaction(conn)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that will write: committed on success, rolled back on any exception.

        On SQLite the writers of this process first queue on a lock: SQLite allows one writer at a time anyway,
        and a thread waiting on a lock wakes the moment it is free, where SQLite's busy handler sleeps in
        growing steps and turns contention into tail latency.
        """
        if not self.is_sqlite:
            with self.engine.connect() as connection, connection.begin():
                yield from self._hooked_transaction(connection)
            return
        with self._sqlite_writer, self.engine.connect() as connection:
            connection = connection.execution_options(sqlite_immediate=True)
            with connection.begin():
                yield from self._hooked_transaction(connection)

    def _hooked_transaction(self, connection: Connection) -> Iterator[Connection]:
        if self._hook is not None:
            self._hook.opened(connection)
        yield connection
        if self._hook is not None:
            self._hook.committing(connection)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A transaction for reads; on SQLite it takes no write lock, so readers never queue behind writers.

        On PostgreSQL it runs in autocommit: under READ COMMITTED every statement takes its own snapshot anyway,
        so a read transaction bought nothing but two round trips (psycopg2's ``BEGIN`` and the ``COMMIT``). Row
        and advisory locks belong in :meth:`write` transactions, where they last until the commit.
        """
        with self.engine.connect() as connection:
            if self.is_sqlite:
                with connection.begin():
                    yield connection
                return
            # Set on the driver's connection, not as SQLAlchemy's isolation_level option: that one restores the
            # level with a "SET default_transaction_isolation" round trip every time the connection is returned.
            driver = connection.connection.dbapi_connection
            assert driver is not None
            driver.autocommit = True
            try:
                with connection.begin():
                    yield connection
            finally:
                if connection.connection.dbapi_connection is driver:  # not invalidated meanwhile
                    driver.autocommit = False

    def dispose(self) -> None:
        self.engine.dispose()
