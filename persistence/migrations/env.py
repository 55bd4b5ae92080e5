"""Alembic environment: always run online, on the connection :func:`persistence.migrate.upgrade` passes in."""

from alembic import context

from persistence.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
