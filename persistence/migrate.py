"""Bring a database to the newest schema with Alembic; safe to run on every start and from many processes.

On PostgreSQL an advisory lock serialises concurrent starts (several workers booting at once); SQLite's
``BEGIN IMMEDIATE`` does the same there.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from persistence.database import Database

_MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), "migrations")
_MIGRATION_LOCK_KEY = 0x67616E67  # "gang": one fixed advisory lock id for schema changes


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", _MIGRATIONS_DIR)
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(database: Database, revision: str = "head") -> None:
    """Apply every pending migration (up to ``revision``; tests of a data migration stop before it) in one
    transaction."""
    _run(database, command.upgrade, revision)


def downgrade(database: Database, revision: str) -> None:
    """Undo the migrations after ``revision``, in one transaction (for tests; no command exposes it)."""
    _run(database, command.downgrade, revision)


def _run(database: Database, step: Callable[[Config, str], None], revision: str) -> None:
    config = _alembic_config()
    with database.write() as connection:
        if not database.is_sqlite:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        config.attributes["connection"] = connection
        step(config, revision)
