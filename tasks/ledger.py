"""The task ledger: every task takes effect at most once, by its id, however often its message arrives.

DESIGN.md guarantee 3. Celery delivers at least once (``acks_late``): a message held by a worker that dies comes
back after ``redis.visibility_timeout``, a transient failure retries it, a forward re-sends it, and anyone who can
write to Redis can push a captured message back. So each message carries a task id fixed when it was enqueued
(``tasks/envelope.py``), and the outcome of that id is fixed exactly once, in ``processed_tasks``:

- **The writer records it with the effects.** A task body's first write transaction also inserts
  ``(task_id, done, answer)`` just before it commits (:class:`TaskRun`, a :class:`~persistence.database.WriteHook`),
  so the effects and the record commit together or not at all. A message whose id already has an outcome runs its
  body again, loses that insert (``ON CONFLICT DO NOTHING`` inserts nothing) just before its commit, rolls its
  transaction back and answers what was recorded: no look-up when the transaction opens, so a first delivery
  (nearly every one) costs one statement for the ledger, not two. This holds because a body's first write
  transaction has no effect outside the database before it commits: rings, pokes and outbound requests come after
  the commit (an effect inside it would now be repeated by a redelivery, then rolled back with nothing to undo it).
- **The web tier fixes the outcome when it gives up.** Before answering 503 because a result did not come in
  time, it inserts ``(task_id, refused)`` in a short transaction of its own (:func:`give_up`). If that insert wins,
  the task can never take effect later: the writer's insert conflicts and its transaction rolls back. If it loses,
  the writer committed first and the web tier answers the recorded result (200) instead of 503. Either way the
  client's answer and the database agree, so a late redelivery never overrides a newer acknowledged write: the
  client's retry after a 503 is a new task (a new id), and the old one is refused. Sends with a transaction id
  deduplicate on that id as before (the txn table), so their retry finds the first attempt if it committed.
- **Late messages are refused by the writer too.** A message whose caller has given up (``answer_by`` passed)
  is recorded ``refused`` without running. This is what holds when the database was down at the moment the web
  tier gave up (it could not write its row, and answered 503 regardless): the task is refused when it runs later.
- **Expiry cannot let a replay through.** Rows are kept :func:`retention_ms` (twice the replay window) and
  deleted by the hourly ``background.delete_expired``; a message older than the replay window is dropped before
  the ledger is consulted, so an id is never looked up after its row could have gone.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from persistence.database import Database
from persistence.stores import Stores
from persistence.stores.processed_tasks import DONE, FAILED, REFUSED, TaskOutcome
from persistence.stream_ids import WriterFolded
from protocol.errors import MatrixError, ServerUnavailable
from tasks.envelope import Stamp, now_ms
from tasks.metrics import DROPPED_MESSAGES
from tasks.registry import TaskSpec

if TYPE_CHECKING:
    from tasks.context import TaskContext

logger = logging.getLogger(__name__)

REPLAY_WINDOW_MS = 15 * 60 * 1000
"""How old a message may be when a worker takes it: above the visibility timeout and the retry horizon (eight
retries backing off to 30 s), so no genuine redelivery or retry is lost; older messages are dropped as replays."""


def replay_window_ms(visibility_timeout_s: int) -> int:
    """The window in force: :data:`REPLAY_WINDOW_MS`, or longer with a very long visibility timeout."""
    return max(REPLAY_WINDOW_MS, 4 * visibility_timeout_s * 1000)


def retention_ms(visibility_timeout_s: int) -> int:
    """How long an outcome is kept: twice the window, so no message still accepted can name an id whose row went."""
    return 2 * replay_window_ms(visibility_timeout_s)


def refused_envelope() -> dict[str, Any]:
    return {"error": ServerUnavailable("The request was abandoned; try again").to_wire()}


class AlreadyDecided(Exception):
    """The task id has an outcome already (found as a transaction opened, or by losing the insert race)."""

    def __init__(self, outcome: TaskOutcome) -> None:
        super().__init__(outcome.outcome)
        self.outcome = outcome


class TaskRun:
    """One run of one message: records its id in the first write transaction of the body (``WriteHook``)."""

    def __init__(self, stores: Stores, stamp: Stamp, task_name: str) -> None:
        self._stores = stores
        self.stamp = stamp
        self.task_name = task_name
        self.recorded = False
        self.answer: Any = None
        """What a redelivery of this task answers; bodies whose result the caller needs set it
        (:func:`answer`) before their transaction ends."""

    def opened(self, conn: Connection) -> None:
        """Nothing to check as the transaction opens: whether the id already has an outcome is decided by the
        insert as it commits (:meth:`record`), which a redelivery loses, rolling its effects back."""

    def committing(self, conn: Connection) -> None:
        if self.recorded:
            return
        self.record(conn, DONE, {"ok": self.answer})

    def record(self, conn: Connection, outcome: str, envelope: dict[str, Any] | None) -> None:
        stores = self._stores
        if not stores.processed_tasks.insert_outcome(conn, self.stamp.task_id, self.task_name, outcome, envelope,
                                                     now_ms()):
            # Lost the race: the web tier gave up first (refused), or another delivery committed first.
            earlier = stores.processed_tasks.get_outcome(conn, self.stamp.task_id)
            raise AlreadyDecided(earlier or TaskOutcome(REFUSED, None))
        self.recorded = True


def answer(context: TaskContext, value: Any) -> None:
    """Record ``value`` as what this task answers if its message comes again (call inside its transaction)."""
    if context.run is not None:
        context.run.answer = value


def _envelope_of(outcome: TaskOutcome) -> dict[str, Any]:
    return outcome.envelope if outcome.envelope is not None else refused_envelope()


def drop(task_name: str, task_id: str, reason: str) -> None:
    """Count and log a message that is acked without taking effect (``ganglion_task_messages_dropped_total``)."""
    DROPPED_MESSAGES.labels(task_name, reason).inc()
    logger.warning("dropped %s %s: %s", task_name, task_id, reason)


def run_body(spec: TaskSpec, context: TaskContext, kwargs: dict[str, Any], stamp: Stamp | None = None,
             ) -> dict[str, Any]:
    """Run a task body at most once per task id and wrap its outcome in the envelope both dispatchers agree on."""
    stamp = stamp or Stamp(str(uuid.uuid4()), now_ms())
    run = TaskRun(context.stores, stamp, spec.name)
    # No look-up first: a redelivery's transaction loses the ledger insert as it commits (``TaskRun.record``) and
    # rolls back, which saves a round trip per task; a body that only reads and pokes runs again, harmlessly, and
    # is then counted.
    if stamp.answer_by_ms and now_ms() > stamp.answer_by_ms:
        return _record_apart(context, run, REFUSED, None, reason="late") or refused_envelope()
    scoped = dataclasses.replace(context, database=context.database.hooked(run), run=run)
    try:
        try:
            value = spec.body(scoped, **kwargs)
        except WriterFolded as folded:
            # This instance writes a stream it was folded out of (added back, or running work forwarded to it):
            # announce it in a committed transaction of its own, as a new writer does, then run the body again;
            # its transaction was rolled back, the task id with it.
            with context.database.write() as conn:
                context.stores.stream_ids.catch_up_writer(conn, folded.stream, folded.writer)
            value = spec.body(scoped, **kwargs)
    except AlreadyDecided as decided:
        drop(spec.name, stamp.task_id, "already_run")
        return _envelope_of(decided.outcome)
    except MatrixError as error:
        # The caller was told this error: a later delivery must not succeed where this one failed.
        envelope = {"error": error.to_wire()}
        return _record_apart(context, run, FAILED, envelope) or envelope
    envelope = {"ok": value}
    if not run.recorded:
        # The body wrote nothing through the ledger (it only read and poked, or wrote elsewhere): record its id
        # afterwards, so a replay of it is still recognised.
        run.answer = value
        return _record_apart(context, run, DONE, envelope) or envelope
    return envelope


def _record_apart(context: TaskContext, run: TaskRun, outcome: str, envelope: dict[str, Any] | None,
                  reason: str | None = None) -> dict[str, Any] | None:
    """Record an outcome in a transaction of its own; answers the earlier outcome's envelope if there was one."""
    try:
        with context.database.write() as conn:
            run.record(conn, outcome, envelope)
    except AlreadyDecided as decided:
        drop(run.task_name, run.stamp.task_id, "already_run")
        return _envelope_of(decided.outcome)
    if reason is not None:
        drop(run.task_name, run.stamp.task_id, reason)
    return None


class Ledger:
    """The web tier's side: fixing the outcome of a task it stops waiting for."""

    def __init__(self, database: Database, stores: Stores) -> None:
        self._database = database
        self._stores = stores

    def give_up(self, task_id: str, task_name: str) -> dict[str, Any] | None:
        """Refuse ``task_id`` for good, or find what it answered: None means the caller answers 503 (the task
        will never take effect, or the database could not be reached: then the writer refuses it as late)."""
        stores = self._stores
        try:
            with self._database.write() as conn:
                if stores.processed_tasks.insert_outcome(conn, task_id, task_name, REFUSED, None, now_ms()):
                    return None
                earlier = stores.processed_tasks.get_outcome(conn, task_id)
        except DBAPIError:
            logger.warning("could not record that %s %s was abandoned; its writer refuses it as late", task_name,
                           task_id, exc_info=True)
            return None
        if earlier is None or earlier.envelope is None:
            return None
        return earlier.envelope
