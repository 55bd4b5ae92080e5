"""Every task takes effect at most once by its id, and once the web tier has answered, that answer is final."""

from __future__ import annotations

import threading
from typing import Any

from persistence.database import Database
from protocol.errors import Forbidden, MatrixError
from tasks.background import delete_expired
from tasks.context import TaskContext
from tasks.envelope import Stamp, now_ms
from tasks.ledger import Ledger, answer, retention_ms, run_body
from tasks.registry import TaskSpec
from tests.clock import FakeClock
from tests.statements import recorded_statements
from tests.tasks.factories import make_context

FAMILY = "ledger_test"


def _items(context: TaskContext, key: str) -> list[dict[str, Any]]:
    with context.database.read() as conn:
        return [item.payload for item in context.stores.outbox.list_items(conn, FAMILY, key, lock=False)]


def _append(context: TaskContext, *, key: str, value: str) -> dict[str, str]:
    """A stand-in writer: one row per run, so running twice would show."""
    with context.database.write() as conn:
        context.stores.outbox.insert_item(conn, FAMILY, key, {"value": value}, 0)
        answer(context, {"written": value})
    return {"written": value}


APPEND = TaskSpec("test.append", family=FAMILY, body=_append, returns_result=True)


def test_a_redelivered_message_answers_what_was_recorded_and_changes_nothing(database: Database) -> None:
    context = make_context(database)
    stamp = Stamp.new(30)
    first = run_body(APPEND, context, {"key": "k", "value": "v1"}, stamp)
    again = run_body(APPEND, context, {"key": "k", "value": "v1"}, stamp)
    assert first == again == {"ok": {"written": "v1"}}
    assert _items(context, "k") == [{"value": "v1"}]


def test_a_first_delivery_costs_the_ledger_one_insert_and_no_look_up(database: Database) -> None:
    context = make_context(database)
    with recorded_statements(database) as statements:
        assert run_body(APPEND, context, {"key": "k", "value": "v1"}, Stamp.new(30)) == {"ok": {"written": "v1"}}
    ledger = [statement.split()[0] for statement in statements if "processed_tasks" in statement]
    assert ledger == ["INSERT"], "the insert at commit decides a redelivery; nothing is read first"


def test_a_task_the_web_tier_gave_up_on_never_takes_effect(database: Database) -> None:
    context = make_context(database)
    stamp = Stamp.new(30)
    assert Ledger(database, context.stores).give_up(stamp.task_id, APPEND.name) is None, "503: refused for good"
    envelope = run_body(APPEND, context, {"key": "k", "value": "late"}, stamp)
    assert envelope["error"]["status"] == 503
    assert _items(context, "k") == []


def test_giving_up_after_the_task_committed_answers_its_result(database: Database) -> None:
    context = make_context(database)
    stamp = Stamp.new(30)
    run_body(APPEND, context, {"key": "k", "value": "v1"}, stamp)
    assert Ledger(database, context.stores).give_up(stamp.task_id, APPEND.name) == {"ok": {"written": "v1"}}


def test_a_message_whose_caller_stopped_waiting_is_refused_without_running(database: Database) -> None:
    context = make_context(database)
    stamp = Stamp("late-task", now_ms() - 60_000, now_ms() - 30_000)
    assert run_body(APPEND, context, {"key": "k", "value": "late"}, stamp)["error"]["status"] == 503
    assert _items(context, "k") == []
    assert Ledger(database, context.stores).give_up(stamp.task_id, APPEND.name) is None


def test_a_failed_task_fails_the_same_way_when_delivered_again(database: Database) -> None:
    context = make_context(database)
    allowed = threading.Event()

    def guarded(context_: TaskContext, *, key: str) -> None:
        if not allowed.is_set():
            raise Forbidden("not yet")
        _append(context_, key=key, value="now allowed")

    spec = TaskSpec("test.guarded", family=FAMILY, body=guarded, returns_result=True)
    stamp = Stamp.new(30)
    first = run_body(spec, context, {"key": "k"}, stamp)
    allowed.set()
    assert run_body(spec, context, {"key": "k"}, stamp) == first
    assert MatrixError.from_wire(first["error"]).errcode == "M_FORBIDDEN"
    assert _items(context, "k") == []


def test_the_web_tier_winning_mid_transaction_rolls_the_writers_effects_back(database: Database) -> None:
    if database.is_sqlite:
        return  # one writer at a time: the race needs concurrent transactions (PostgreSQL)
    context = make_context(database)
    inside, release = threading.Event(), threading.Event()
    outcome: list[dict[str, Any]] = []

    def slow(context_: TaskContext, *, key: str) -> None:
        with context_.database.write() as conn:
            context_.stores.outbox.insert_item(conn, FAMILY, key, {"value": "slow"}, 0)
            inside.set()
            release.wait(10)

    spec = TaskSpec("test.slow", family=FAMILY, body=slow, returns_result=True)
    stamp = Stamp.new(30)
    writer = threading.Thread(target=lambda: outcome.append(run_body(spec, context, {"key": "k"}, stamp)))
    writer.start()
    assert inside.wait(10)
    assert Ledger(database, context.stores).give_up(stamp.task_id, spec.name) is None
    release.set()
    writer.join(10)
    assert outcome[0]["error"]["status"] == 503
    assert _items(context, "k") == [], "the writer's transaction rolled back"


def test_a_body_that_only_reads_and_pokes_is_recorded_too(database: Database) -> None:
    context = make_context(database)
    runs: list[int] = []
    spec = TaskSpec("test.poke", family=FAMILY, body=lambda context_: runs.append(1) or len(runs))
    stamp = Stamp.new()
    assert run_body(spec, context, {}, stamp) == run_body(spec, context, {}, stamp) == {"ok": 1}, \
        "a replay answers what the first run answered (its pokes, harmless, went out again)"


def test_outcomes_expire_after_the_retention(database: Database) -> None:
    clock = FakeClock()
    context = make_context(database, clock=clock)
    stamp = Stamp.new()
    run_body(APPEND, context, {"key": "k", "value": "v1"}, stamp)
    retention = retention_ms(context.config.redis.visibility_timeout)
    clock.advance(retention - 60_000)
    delete_expired(context)
    with database.read() as conn:
        assert context.stores.processed_tasks.get_outcome(conn, stamp.task_id) is not None, "kept a while"
    clock.advance(61_000)
    delete_expired(context)
    with database.read() as conn:
        assert context.stores.processed_tasks.get_outcome(conn, stamp.task_id) is None
