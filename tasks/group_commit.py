"""Group commit for the events writer: the events that callers of one process hand over while a transaction is
committing are persisted together, in one transaction, in the order they were handed over.

Leader and followers, as in a database's own group commit. A caller (:meth:`GroupCommit.run`) queues its work; if
no batch is being written it leads: it takes everything queued (up to :data:`MAX_BATCH`), opens one write
transaction, runs each caller's work in it in queue order and commits once. Callers that queue meanwhile wait;
when the leader is done, the first of them whose work is still queued leads the next batch. Nobody waits for a
batch to fill: a lone caller leads a batch of one at once, so a quiet writer costs what it always did, and a busy
one commits (and syncs the WAL) once per burst instead of once per event.

What each event's transaction guaranteed still holds for each work in a batch:

- **Per-room order.** Works run in the order they were queued, under their rooms' locks. The leader takes every
  room lock of the batch first, in one fixed order, so two batches (or a batch and a one-room transaction) never
  wait for each other in a cycle.
- **Exactly once.** Each work runs inside a savepoint with its own task's ledger hook (``Database.joined``): the
  task id is recorded with that work's effects, and a work that fails (a Matrix error, a redelivery losing the
  ledger insert, a folded writer) rolls back to its savepoint alone and its caller sees the error, as before.
- **No gap for /sync.** All the batch's events, and the writer's position past them, become visible in one commit.
- **Nothing leaves before the commit.** Rings and pokes stay with each caller, after :meth:`run` returns.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy import Connection

from persistence.database import Database
from persistence.locks import lock_room
from persistence.prepared import PREPARED

T = TypeVar("T")

MAX_BATCH = 64
"""At most this many works per transaction: a batch holds its rooms' locks until it commits, and each of its
callers waits for the last work, so an unbounded batch would trade latency for nothing."""


@dataclass(eq=False)
class _Work(Generic[T]):
    database: Database
    room_id: str
    write: Callable[[Connection], T]
    done: bool = False
    result: T | None = None
    error: BaseException | None = field(default=None)
    settled: bool = False
    """Whether ``result`` or ``error`` holds this work's outcome."""


class GroupCommit:
    """One per process (``TaskContext.group_commit``), shared by every thread or greenlet that writes events."""

    def __init__(self, max_batch: int = MAX_BATCH) -> None:
        self._max_batch = max_batch
        self._changed = threading.Condition()
        self._queued: deque[_Work[object]] = deque()
        self._leading = False

    def queued(self) -> int:
        """How many works wait for a batch (the next batch takes them)."""
        with self._changed:
            return len(self._queued)

    @contextmanager
    def held(self) -> Iterator[None]:
        """No batch starts inside the block (one already running finishes): works handed over meanwhile wait,
        and the next batch takes them together. For a caller that hands over several works, in order, from
        threads of its own (``tasks/queue_drain.py``)."""
        with self._changed:
            while self._leading:
                self._changed.wait()
            self._leading = True
        try:
            yield
        finally:
            with self._changed:
                self._leading = False
                self._changed.notify_all()

    def wait_for_more(self, count: int, finished: Callable[[], bool]) -> None:
        """Until ``count`` works are queued, or ``finished()`` says the caller expecting one ended without."""
        with self._changed:
            while len(self._queued) < count and not finished():
                self._changed.wait(timeout=0.05)

    def run(self, database: Database, room_id: str, write: Callable[[Connection], T]) -> T:
        """Run ``write`` in a transaction holding ``room_id``'s lock, shared with whatever else is queued now;
        answers its result once that transaction committed, or raises what ``write`` (or the commit) raised.
        ``database`` carries the caller's ledger hook (``Database.hooked``), run around ``write`` alone."""
        work: _Work[T] = _Work(database, room_id, write)
        with self._changed:
            self._queued.append(work)  # type: ignore[arg-type]  # a queue of works of any result type
            self._changed.notify_all()
            while self._leading and not work.done:
                self._changed.wait()
            if not work.done:
                self._leading = True
        while not work.done:
            with self._changed:
                batch = [self._queued.popleft() for _ in range(min(self._max_batch, len(self._queued)))]
            try:
                _commit(batch)
            finally:
                with self._changed:
                    for taken in batch:
                        if not taken.settled:  # the leader itself was interrupted (a timeout, a signal)
                            taken.error = RuntimeError("the batch holding this event was interrupted")
                        taken.done = True
                    if work.done:
                        self._leading = False
                    self._changed.notify_all()
        if work.error is not None:
            raise work.error
        return work.result  # type: ignore[return-value]  # set by _commit when it raised nothing


def _commit(batch: list[_Work[object]]) -> None:
    """Write ``batch`` in one transaction; every work ends with its result or its error set."""
    base = batch[0].database.unhooked()
    try:
        with base.write() as conn:
            conn.execution_options(**{PREPARED: True})  # the hot path: parsed and planned once per connection
            for room_id in sorted({work.room_id for work in batch}):
                lock_room(conn, room_id)
            if len(batch) == 1:
                (work,) = batch
                with work.database.joined(conn):  # no savepoint needed: its error rolls back the whole
                    work.result = work.write(conn)
                work.settled = True
                return
            for work in batch:
                savepoint = conn.begin_nested()
                try:
                    with work.database.joined(conn):
                        work.result = work.write(conn)
                except Exception as error:
                    savepoint.rollback()
                    work.error = error
                else:
                    savepoint.commit()
                work.settled = True
    except Exception as error:
        # The transaction itself failed (the commit, a lock, the database gone): nothing of it took effect.
        for work in batch:
            work.result, work.error, work.settled = None, error, True
