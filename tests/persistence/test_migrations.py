"""The Alembic migrations build exactly the schema persistence/tables.py describes, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from persistence import migrate
from persistence.database import Database
from persistence.tables import metadata

# Full-text indexes exist in one database only and outside the table definitions (migration 0004): SQLite's FTS5
# table with its shadow tables, and PostgreSQL's expression index.
DIALECT_ONLY = ("event_search_fts", "ix_event_search_value_tsvector")


def _in_metadata(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    return not (name or "").startswith(DIALECT_ONLY)


def test_migrated_schema_matches_the_table_definitions(database: Database) -> None:
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": _in_metadata})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_database_is_at_head_and_upgrading_again_is_a_no_op(database: Database) -> None:
    assert migrate.current_revision(database) == migrate.head_revision()
    migrate.upgrade(database)
    assert migrate.current_revision(database) == migrate.head_revision()
