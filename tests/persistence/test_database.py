"""The PostgreSQL pool keeps the connections it opened, up to ``cp_max``: a burst of requests does not start a
PostgreSQL backend per request (what SQLAlchemy's overflow connections above ``cp_min`` used to cost); reads cost
no round trips beyond their statements, and writes stay transactions."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from sqlalchemy import event, text

from config.database import DatabaseConfig
from persistence.database import Database
from tests.services import PG_HOST, PG_PORT, PG_USER


def _count_connects(database: Database) -> list[int]:
    opened = [0]

    @event.listens_for(database.engine, "connect")
    def _on_connect(_dbapi_connection: Any, _record: Any) -> None:
        opened[0] += 1

    return opened


def _burst(database: Database, size: int) -> None:
    """``size`` transactions open at once, as a web worker's concurrent requests hold them."""
    with ExitStack() as stack:
        for _ in range(size):
            stack.enter_context(database.read()).execute(text("SELECT 1"))


def test_connections_opened_for_a_burst_are_kept_for_the_next(pg_database_name: str) -> None:
    url = f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{pg_database_name}"
    database = Database(DatabaseConfig("psycopg2", url, pool_min=1, pool_max=4))
    try:
        opened = _count_connects(database)
        _burst(database, 4)
        assert opened[0] == 4
        for _ in range(3):
            _burst(database, 4)
        assert opened[0] == 4  # reused, not reopened
        assert database.engine.pool.checkedin() == 4  # type: ignore[attr-defined]
    finally:
        database.dispose()


def test_reads_run_in_autocommit_and_writes_stay_transactions_on_the_same_connection(pg_database_name: str) -> None:
    """A read is one round trip per statement (no BEGIN/COMMIT, no pre-ping); the connection it used goes back to
    the pool transactional, so a write on it that fails rolls its first statements back."""
    url = f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{pg_database_name}"
    database = Database(DatabaseConfig("psycopg2", url, pool_min=1, pool_max=1))
    try:
        with database.write() as conn:
            conn.execute(text("CREATE TABLE IF NOT EXISTS autocommit_probe (n integer)"))
            conn.execute(text("DELETE FROM autocommit_probe"))
        with database.read() as conn:
            assert conn.connection.dbapi_connection.autocommit is True  # type: ignore[union-attr]
            assert conn.execute(text("SELECT count(*) FROM autocommit_probe")).scalar() == 0
        try:
            with database.write() as conn:
                assert conn.connection.dbapi_connection.autocommit is False  # type: ignore[union-attr]
                conn.execute(text("INSERT INTO autocommit_probe VALUES (1)"))
                raise RuntimeError("the write fails after its first statement")
        except RuntimeError:
            pass
        with database.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM autocommit_probe")).scalar() == 0
        with database.write() as conn:
            conn.execute(text("DROP TABLE autocommit_probe"))
    finally:
        database.dispose()
