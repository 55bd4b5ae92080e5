"""Alembic migrations. ``persistence.migrate.upgrade`` runs them; ``ganglion migrate`` is the command."""
