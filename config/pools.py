"""How ``ganglion worker NAME`` runs NAME's queues: which Celery pool, how many at once, per queue family.

Ordered families (every stream writer, appservice, user directory) need exactly one consumer per queue at a time,
so their queues get a pool of one: the tasks of one instance's ordered queues run one after another, in queue
order. The outbound and housekeeping families (federation, push, media, background) spend their time waiting on the
network or the database and are idempotent per key, so they get a concurrent pool.

An instance that consumes both kinds (``main`` in the default config) runs one Celery worker process per kind,
under a supervisor process (``ganglion.worker_processes``): Celery's concurrency is per process, and a single
concurrent pool would run two tasks of one room at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.routing import FAMILIES, RoutingTable

ORDERED = "ordered"
CONCURRENT = "concurrent"
POOL = "threads"
"""Threads for both kinds: a pool of one thread keeps the consumer answering pings and heartbeats while a long
task runs (``solo`` would not), and task bodies block in psycopg2 and redis-py, which gevent cannot preempt without
patching the whole process."""


@dataclass(frozen=True)
class PoolPlan:
    kind: str
    queues: tuple[str, ...]
    concurrency: int

    def hostname(self, instance: str) -> str:
        """Celery node name: unique per process of an instance, so pings and Flower tell them apart."""
        return f"{instance}@%h" if self.kind == ORDERED else f"{instance}.{self.kind}@%h"


def plan_pools(routing: RoutingTable, instance: str, concurrency: int) -> tuple[PoolPlan, ...]:
    """The pools ``instance`` needs under ``routing``: an ordered pool of one and/or a concurrent pool."""
    return pools_for_queues(routing.queues_for_instance(instance), concurrency)


def pools_for_queues(queues: tuple[str, ...], concurrency: int) -> tuple[PoolPlan, ...]:
    """The pools that consume ``queues`` (named ``family`` or ``family.instance``, as the routing table names
    them): an ordered pool of one and/or a concurrent pool of ``concurrency``."""
    ordered = tuple(queue for queue in queues if FAMILIES[queue.split(".", 1)[0]].ordered)
    concurrent = tuple(queue for queue in queues if queue not in ordered)
    plans = []
    if ordered:
        plans.append(PoolPlan(ORDERED, ordered, 1))
    if concurrent:
        plans.append(PoolPlan(CONCURRENT, concurrent, max(1, concurrency)))
    return tuple(plans)
