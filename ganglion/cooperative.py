"""Making a web process cooperative for gevent, before anything else is imported.

gunicorn's gevent worker patches the standard library when it starts, but by then the command has imported
alembic, SQLAlchemy and redis (and with them ssl) to run migrations: patching that late is what gevent warns
about. ``ganglion run`` and ``ganglion web`` therefore patch first, in the arbiter, so every worker it forks
starts cooperative; psycopg2 is made cooperative too (it talks to PostgreSQL in C).
"""

from __future__ import annotations


def make_cooperative(worker_class: str) -> None:
    if worker_class != "gevent":
        return
    from gevent import monkey

    monkey.patch_all()
    from psycogreen.gevent import patch_psycopg

    patch_psycopg()
