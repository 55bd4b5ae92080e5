"""With worker_replication_secret set, a worker runs only task messages signed with it (or, during a rotation,
with the previous one), once, and only while they are fresh: a captured message pushed back is dropped."""

from __future__ import annotations

from typing import Any

from celery import Celery

from persistence.database import Database
from tasks.api import DRAIN_DEVICE_LISTS
from tasks.app import bind_tasks
from tasks.context import TaskContext
from tasks.envelope import Stamp, now_ms, signed_headers
from tasks.ledger import REPLAY_WINDOW_MS
from tasks.metrics import DROPPED_MESSAGES
from tasks.registry import catalogue
from tests.tasks.factories import make_context

SECRET = "replication-secret"
PREVIOUS = "the-secret-before"
USER = "@a:test.local"


def _worker_app(database: Database) -> tuple[Celery, TaskContext]:
    app = Celery("test", set_as_current=False)
    context = make_context(database)
    bind_tasks(app, catalogue(), context, SECRET, PREVIOUS)
    return app, context


def _pending(context: TaskContext, user_id: str = USER) -> int:
    with context.database.read() as conn:
        return len(context.stores.outbox.list_items(conn, "device_lists", user_id, lock=False))


def _change_device(context: TaskContext) -> None:
    with context.database.write() as conn:
        context.stores.outbox.insert_item(conn, "device_lists", USER, {"device_id": "D"}, 0)


def _dropped(reason: str) -> float:
    return DROPPED_MESSAGES.labels(DRAIN_DEVICE_LISTS, reason)._value.get()  # type: ignore[attr-defined]


def _apply(app: Celery, stamp: Stamp, headers: dict[str, Any]) -> Any:
    return app.tasks[DRAIN_DEVICE_LISTS].apply(kwargs={"user_id": USER}, task_id=stamp.task_id,
                                               headers=headers).get()


def test_unsigned_and_forged_messages_are_dropped_signed_ones_run(database: Database) -> None:
    app, context = _worker_app(database)
    _change_device(context)
    kwargs = {"user_id": USER}
    stamp = Stamp.new()
    forged_before = _dropped("forged")

    assert _apply(app, stamp, {}) is None
    assert _apply(app, stamp, signed_headers("guessed-secret", DRAIN_DEVICE_LISTS, kwargs, stamp)) is None
    assert _apply(app, stamp, signed_headers(SECRET, DRAIN_DEVICE_LISTS, {"user_id": "@b:test.local"}, stamp)) is None
    edited = signed_headers(SECRET, DRAIN_DEVICE_LISTS, kwargs, stamp)
    assert _apply(app, stamp, {**edited, "ganglion_issued": now_ms() + 1000}) is None, "the stamp is signed too"
    assert _pending(context) == 1
    assert _dropped("forged") == forged_before + 4

    assert _apply(app, stamp, signed_headers(SECRET, DRAIN_DEVICE_LISTS, kwargs, stamp)) == {"ok": 1}
    assert _pending(context) == 0


def test_a_captured_message_pushed_back_changes_nothing_and_is_counted(database: Database) -> None:
    app, context = _worker_app(database)
    _change_device(context)
    stamp = Stamp.new()
    captured = signed_headers(SECRET, DRAIN_DEVICE_LISTS, {"user_id": USER}, stamp)
    assert _apply(app, stamp, captured) == {"ok": 1}

    _change_device(context)  # a new change waits for its own poke
    before = _dropped("already_run")
    _apply(app, stamp, captured)
    assert _pending(context) == 1, "not run again"
    assert _dropped("already_run") == before + 1


def test_a_message_older_than_the_replay_window_is_dropped(database: Database) -> None:
    app, context = _worker_app(database)
    _change_device(context)
    stamp = Stamp("old-task", now_ms() - REPLAY_WINDOW_MS - 1000)
    before = _dropped("expired")
    assert _apply(app, stamp, signed_headers(SECRET, DRAIN_DEVICE_LISTS, {"user_id": USER}, stamp)) is None
    assert _pending(context) == 1
    assert _dropped("expired") == before + 1


def test_during_a_rotation_the_previous_secret_is_still_accepted(database: Database) -> None:
    app, context = _worker_app(database)
    _change_device(context)
    stamp = Stamp.new()
    assert _apply(app, stamp, signed_headers(PREVIOUS, DRAIN_DEVICE_LISTS, {"user_id": USER}, stamp)) == {"ok": 1}
    assert _pending(context) == 0
