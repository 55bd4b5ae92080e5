"""The Alembic migrations build exactly the schema persistence/tables.py describes, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from persistence import migrate
from persistence.database import Database
from persistence.tables import metadata


def test_migrated_schema_matches_the_table_definitions(database: Database) -> None:
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_database_is_at_head_and_upgrading_again_is_a_no_op(database: Database) -> None:
    assert migrate.current_revision(database) == migrate.head_revision()
    migrate.upgrade(database)
    assert migrate.current_revision(database) == migrate.head_revision()
