"""Live resharding: the writers of a sharded family change while every process keeps running.

Design (refines DESIGN.md "Streams, queues and config", where routing was computed from config alone):

- **The shard map is data, versioned by epoch.** ``stream_writers``, ``federation_sender_instances``,
  ``pusher_instances`` and ``appservice_instances`` give each sharded family its first map (epoch 0).
  ``ganglion shards add|remove FAMILY NAME`` appends the next epoch to ``shard_maps`` (epoch 0 is written too,
  the first time, so the history is whole); from then on the newest epoch in the database is in force for that
  family, whatever the config says.
- **Every process reads it on change.** The change rings the doorbell (stream ``shards``); :class:`LiveRouting`
  re-reads the maps on that ring, on a doorbell resync, when a message names a newer epoch than it knows, and at
  the latest every :data:`REFRESH_SECONDS` (a lost ring costs a short delay, never a wrong result).
- **Rendezvous hashing** (``config.routing.shard_for``) moves only about 1/n of the keys when an instance is
  added, all of them to the new instance; removing one moves only its own keys.
- **Every message carries the epoch it was routed under** (header ``ganglion_epoch``). A writer that receives work
  for a key it does not own under the newest map forwards the message, task id unchanged, to the owner's queue:
  the caller waiting on the result gets the owner's answer, and nothing routed by a process with a stale map is
  lost or run by the wrong writer.
- **Drain and fence, so per-room order survives a move** (guarantee 1). After appending epoch E the admin command
  puts a fence task for E at the tail of the queue of every instance of epoch E-1. An instance runs its fence
  once the tasks it received before it have finished, then records ``shard_fences[family, instance] = E``: its
  queue now holds nothing older for keys it gave away (anything still arriving for them is forwarded). Before
  running a key's work, its owner under an ordered family waits until every earlier owner of that key has passed
  the fence of the epoch in which it lost the key. The wait is bounded (:data:`FENCE_TIMEOUT_SECONDS`) so a dead
  old owner cannot wedge the new one: past it, the per-room lock still makes the overlap harmless (work runs one
  at a time), only the queue order across the two queues is no longer promised.
- **A removed instance drains before it stops.** It keeps consuming its old queue after the change: its fence
  runs behind everything queued to it, then it forwards any stragglers. ``ganglion shards remove`` waits for its
  fence; stopping it afterwards loses nothing. If it is dead, starting ``ganglion worker NAME`` again drains and
  forwards what its queue still holds (a removed instance still consumes the queues of the families it was in).
- **Stream positions.** A new writer catches its position up before its first task (``tasks/writers.py``); tokens
  that do not name it read it at their floor, which is sound because all its ids are larger
  (``protocol/sync_tokens.py``). A removed writer catches up once more at its fence, with nothing in flight, and
  is then folded out of tokens (``tasks/retired_writers.py``): new tokens stop naming it, old tokens naming it
  stay valid.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import Celery
from kombu import Queue

from config import HomeserverConfig
from config.routing import FAMILIES, RoutingTable, shard_for
from config.workers import STREAMS
from persistence.database import Database
from persistence.doorbell import RESYNC, Ring
from persistence.stores import Stores
from tasks.registry import TaskSpec
from tasks.retired_writers import fold_retired_writers

logger = logging.getLogger(__name__)

SHARDS_STREAM = "shards"
"""The doorbell stream a shard map change is announced on (it carries the family as its key)."""
EPOCH_HEADER = "ganglion_epoch"
HOPS_HEADER = "ganglion_hops"
FENCE = "shards.fence"
REFRESH_SECONDS = 10.0
FENCE_TIMEOUT_SECONDS = 30.0
"""How long a new owner waits for an old owner's fence: below the web tier's 30 s wait plus a retry, long enough
for a healthy writer to drain a backlog of a few hundred tasks."""
MAX_HOPS = 4
"""Forwarding stops here and the task runs where it is: maps that disagree converge within one refresh, and the
room lock keeps a run in the wrong place harmless."""


@dataclass(frozen=True)
class ShardHistory:
    """One family's maps, oldest first; a family never resharded has one, epoch 0, from config."""

    epochs: tuple[tuple[int, tuple[str, ...]], ...]

    @property
    def epoch(self) -> int:
        return self.epochs[-1][0]

    @property
    def instances(self) -> tuple[str, ...]:
        return self.epochs[-1][1]

    def earlier_owners(self, key: str, owner: str) -> dict[str, int]:
        """Instance -> the epoch in which it stopped owning ``key``, for each instance other than ``owner`` that
        owned it under an earlier epoch: the fences ``owner`` must see before it runs the key's work."""
        found: dict[str, int] = {}
        for (_epoch, instances), (next_epoch, _next) in zip(self.epochs, self.epochs[1:], strict=False):
            if instances:
                previous = shard_for(instances, key)
                if previous != owner:
                    found[previous] = next_epoch
        return found


class LiveRouting:
    """The routing table in force: config, overridden per family by the newest shard map in the database."""

    def __init__(self, config: HomeserverConfig, database: Database, stores: Stores,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._database = database
        self._stores = stores
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._loaded_at: float | None = None
        self._histories: dict[str, ShardHistory] = {}
        self._table = config.routing

    def on_ring(self, ring: Ring) -> None:
        """Doorbell listener: a shard change (or a resync, which may hide one) makes the maps stale."""
        if ring.stream in (SHARDS_STREAM, RESYNC.stream):
            self._loaded_at = None

    def refresh(self) -> None:
        with self._database.read() as conn:
            maps = self._stores.shards.list_maps(conn)
        static = self._config.routing
        histories = {family: ShardHistory(((0, static.instances(family)),)) for family in FAMILIES}
        histories.update({family: ShardHistory(tuple(epochs)) for family, epochs in maps.items()
                          if family in FAMILIES})
        table = RoutingTable(self._config.workers, {family: maps[family][-1][1] for family in maps})
        with self._lock:
            self._histories, self._table, self._loaded_at = histories, table, self._monotonic()

    def _fresh(self) -> None:
        loaded = self._loaded_at
        if loaded is None or self._monotonic() - loaded > REFRESH_SECONDS:
            try:
                self.refresh()
            except Exception:
                if not self._histories:
                    raise
                # Keep routing with the maps we have (the database being away fails the task itself anyway), and
                # try again a refresh period later rather than on every dispatch.
                self._loaded_at = self._monotonic()
                logger.warning("could not re-read the shard maps; keeping the epochs in use", exc_info=True)

    def table(self) -> RoutingTable:
        self._fresh()
        return self._table

    def history(self, family: str) -> ShardHistory:
        self._fresh()
        return self._histories[family]

    def epoch(self, family: str) -> int:
        return self.history(family).epoch

    def catch_up(self, family: str, epoch: int) -> None:
        """A message was routed under ``epoch``: make sure this process knows it."""
        if epoch > self.epoch(family):
            self.refresh()

    def queues_for_instance(self, instance: str) -> tuple[str, ...]:
        """What ``ganglion worker NAME`` consumes: its queues in force, plus the queue of every family it was
        removed from, so whatever is left there is still drained and forwarded."""
        table = self.table()
        former = [RoutingTable.queue_name(family, instance) for family, history in self._histories.items()
                  if FAMILIES[family].sharded and instance not in history.instances
                  and any(instance in instances for _epoch, instances in history.epochs)]
        return tuple(dict.fromkeys([*table.queues_for_instance(instance), *former]))

    def streams_written_by(self, instance: str) -> tuple[str, ...]:
        table = self.table()
        return tuple(stream for stream in STREAMS if instance in table.instances(stream))


class InFlight:
    """The tasks this process is running, in the order they started: a fence waits for those before it."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._next = 0
        self._running: set[int] = set()
        self._local = threading.local()

    def enter(self) -> int:
        with self._condition:
            self._next += 1
            self._running.add(self._next)
            self._local.ticket = self._next
            return self._next

    def current(self) -> int:
        """The ticket of the task running in this thread."""
        return int(self._local.ticket)

    def leave(self, ticket: int) -> None:
        with self._condition:
            self._running.discard(ticket)
            self._condition.notify_all()

    def wait_before(self, ticket: int, timeout: float) -> bool:
        with self._condition:
            return self._condition.wait_for(lambda: all(t >= ticket for t in self._running), timeout)


@dataclass(frozen=True)
class Forward:
    """The task belongs elsewhere under the map in force: send it there."""

    queue: str
    epoch: int


class ShardGuard:
    """What a writer checks before it runs a sharded task: is the key still mine, and have its old owners
    drained? Shared by every task of one worker process."""

    def __init__(self, routing: LiveRouting, instance: str, database: Database, stores: Stores,
                 fence_timeout: float = FENCE_TIMEOUT_SECONDS) -> None:
        self._routing = routing
        self._instance = instance
        self._database = database
        self._stores = stores
        self._fence_timeout = fence_timeout
        self._passed: dict[tuple[str, str], int] = {}
        """(family, instance) -> fence epoch known passed (or given up on): fences only move forward."""
        self.in_flight = InFlight()

    @property
    def routing(self) -> LiveRouting:
        return self._routing

    def admit(self, family: str, key: str | None, epoch: int, hops: int) -> Forward | None:
        """None when this process should run the task now (after any fence wait); a :class:`Forward` otherwise."""
        if key is None or not FAMILIES[family].sharded:
            return None
        self._routing.catch_up(family, epoch)
        history = self._routing.history(family)
        if not history.instances:
            return None
        owner = shard_for(history.instances, key)
        if owner != self._instance and hops < MAX_HOPS:
            return Forward(RoutingTable.queue_name(family, owner), history.epoch)
        if FAMILIES[family].ordered:
            self._wait_for_fences(family, history.earlier_owners(key, self._instance))
        return None

    def _wait_for_fences(self, family: str, needed: dict[str, int]) -> None:
        pending = {instance: epoch for instance, epoch in needed.items()
                   if self._passed.get((family, instance), -1) < epoch}
        deadline = time.monotonic() + self._fence_timeout
        while pending:
            with self._database.read() as conn:
                fences = self._stores.shards.get_fences(conn, family)
            for instance, epoch in list(pending.items()):
                if fences.get(instance, -1) >= epoch:
                    self._passed[(family, instance)] = fences[instance]
                    del pending[instance]
            if not pending:
                return
            if time.monotonic() > deadline:
                for instance, epoch in pending.items():
                    logger.warning("%s: %s has not passed the fence of epoch %d after %.0fs; going ahead (the "
                                   "room lock keeps the overlap safe)", family, instance, epoch, self._fence_timeout)
                    self._passed[(family, instance)] = epoch
                return
            time.sleep(0.05)

    def pass_fence(self, family: str, epoch: int) -> None:
        """The fence task for ``epoch`` reached the head of this instance's ``family`` queue: wait for the tasks
        received before it, re-read the maps, let a removed stream writer catch its position up, record it."""
        if not self.in_flight.wait_before(self.in_flight.current(), self._fence_timeout):
            logger.warning("%s fence %d: earlier tasks still running after %.0fs", family, epoch, self._fence_timeout)
        self._routing.refresh()
        with self._database.write() as conn:
            if family in STREAMS and self._instance not in self._routing.history(family).instances:
                # Retired with nothing in flight: its final position stops holding readers' floor back.
                self._stores.stream_ids.catch_up_writer(conn, family, self._instance)
            self._stores.shards.upsert_fence(conn, family, self._instance, epoch)
        logger.info("%s: %s passed the fence of epoch %d", family, self._instance, epoch)
        if family in STREAMS:
            try:
                fold_retired_writers(self._database, self._stores)
            except Exception:  # beat's fold job tries again; the fence itself is recorded
                logger.warning("%s: could not fold retired writers after fence %d", family, epoch, exc_info=True)


def fence(context: Any, *, family: str, epoch: int) -> None:
    """Task body of :data:`FENCE`, sent by ``ganglion shards`` to each old owner's queue of ``family``."""
    guard: ShardGuard | None = context.shard_guard
    if guard is not None:
        guard.pass_fence(family, epoch)


TASKS = (TaskSpec(FENCE, family="background", body=fence, runs_however_late=True),)
"""Sent to an explicit queue (never routed by family), so its family only names it in the catalogue."""


def forward(app: Celery, name: str, kwargs: dict[str, Any], task_id: str, headers: dict[str, Any],
            to: Forward, hops: int) -> None:
    """Re-send a task, same id and arguments, to the queue that owns it now."""
    app.send_task(name, kwargs=kwargs, queue=Queue(to.queue), task_id=task_id,
                  headers={**headers, EPOCH_HEADER: to.epoch, HOPS_HEADER: hops + 1})
