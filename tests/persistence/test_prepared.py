"""Prepared statements on PostgreSQL (persistence/prepared.py): prepared once per connection, answering what the
plain statement answers, and never in the way of a statement PostgreSQL will not prepare."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, text

from config.database import DatabaseConfig
from persistence.database import Database
from persistence.prepared import PREPARED
from persistence.stores.processed_tasks import DONE, REFUSED, ProcessedTaskStore
from tests.conftest import _reset_postgres
from tests.services import PG_HOST, PG_PORT, PG_USER


@pytest.fixture
def postgres(pg_database_name: str) -> Iterator[Database]:
    database = Database(DatabaseConfig(
        "psycopg2", f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{pg_database_name}"))
    _reset_postgres(database)
    yield database
    database.dispose()


def _prepared(conn: Connection) -> set[str]:
    return {row[0] for row in conn.execute(text("SELECT statement FROM pg_prepared_statements"))}


def test_a_statement_is_prepared_once_per_connection_and_answers_as_sent_plainly(postgres: Database) -> None:
    query = text("SELECT CAST(:a AS integer) + CAST(:b AS integer), CAST(:a AS integer)")
    with postgres.write() as conn:
        plain = conn.execute(query, {"a": 2, "b": 3}).all()
        assert not any("CAST(" in statement for statement in _prepared(conn)), "only when asked"
        conn.execution_options(**{PREPARED: True})
        first = conn.execute(query, {"a": 2, "b": 3}).all()
        second = conn.execute(query, {"a": 5, "b": 1}).all()
        held = [statement for statement in _prepared(conn) if "CAST($1 AS integer) + CAST($2" in statement]
    assert plain == first == [(5, 2)] and second == [(6, 5)]
    assert len(held) == 1, "one PREPARE, then EXECUTE with each call's values"


def test_a_statement_postgresql_will_not_prepare_runs_as_it_is_and_the_transaction_goes_on(
        postgres: Database) -> None:
    with postgres.write() as conn:
        conn.execution_options(**{PREPARED: True})
        # The type of a parameter compared with nothing cannot be inferred: PREPARE fails, the statement runs.
        assert conn.execute(text("SELECT :value IS NULL"), {"value": None}).scalar_one() is True
        assert conn.execute(text("SELECT :value IS NULL"), {"value": "x"}).scalar_one() is False
        assert conn.execute(text("SELECT 1")).scalar_one() == 1


def test_the_ledger_still_learns_whether_its_insert_won_through_a_prepared_statement(postgres: Database) -> None:
    store = ProcessedTaskStore()
    with postgres.write() as conn:
        conn.execution_options(**{PREPARED: True})
        assert store.insert_outcome(conn, "task-1", "test", DONE, {"ok": 1}, 0) is True
        assert store.insert_outcome(conn, "task-1", "test", REFUSED, None, 0) is False
        outcome = store.get_outcome(conn, "task-1")
    assert outcome is not None and outcome.outcome == DONE
