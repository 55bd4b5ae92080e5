"""With worker_replication_secret set, a worker runs only task messages signed with it."""

from __future__ import annotations

from celery import Celery

from persistence.database import Database
from tasks.api import DRAIN_DEVICE_LISTS
from tasks.app import bind_tasks
from tasks.context import TaskContext
from tasks.envelope import signed_headers
from tasks.registry import catalogue
from tests.tasks.factories import make_context

SECRET = "replication-secret"


def _worker_app(database: Database) -> tuple[Celery, TaskContext]:
    app = Celery("test", set_as_current=False)
    context = make_context(database)
    bind_tasks(app, catalogue(), context, SECRET)
    return app, context


def _pending(context: TaskContext, user_id: str) -> int:
    with context.database.read() as conn:
        return len(context.stores.outbox.list_items(conn, "device_lists", user_id, lock=False))


def test_unsigned_and_forged_messages_are_dropped_signed_ones_run(database: Database) -> None:
    app, context = _worker_app(database)
    user = "@a:test.local"
    with database.write() as conn:
        context.stores.outbox.insert_item(conn, "device_lists", user, {"device_id": "D"}, 0)
    task = app.tasks[DRAIN_DEVICE_LISTS]
    kwargs = {"user_id": user}

    assert task.apply(kwargs=kwargs).get() is None
    forged = signed_headers("guessed-secret", DRAIN_DEVICE_LISTS, kwargs)
    assert task.apply(kwargs=kwargs, headers=forged).get() is None
    other_args = signed_headers(SECRET, DRAIN_DEVICE_LISTS, {"user_id": "@b:test.local"})
    assert task.apply(kwargs=kwargs, headers=other_args).get() is None
    assert _pending(context, user) == 1

    genuine = signed_headers(SECRET, DRAIN_DEVICE_LISTS, kwargs)
    assert task.apply(kwargs=kwargs, headers=genuine).get() == {"ok": 1}
    assert _pending(context, user) == 0
