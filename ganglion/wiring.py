"""Building each kind of process from config: the monolith, a web worker, a Celery worker.

The same stores, task bodies and views run everywhere; only what is plugged in differs (inline vs Celery
dispatch, in-process vs Redis doorbell and rate-limit buckets).
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from celery import Celery

from config import HomeserverConfig
from federation_client.services import build_federation
from persistence.database import Database
from persistence.doorbell import Doorbell, LocalDoorbell, RedisDoorbell
from persistence.leases import Lease
from persistence.push_rules_cache import PushRulesCache
from persistence.ratelimit import MemoryBuckets, RedisBuckets
from persistence.signing_key import load_signing_key
from persistence.stores import Stores
from persistence.token_revocations import RedisTokenRevocations
from protocol.clock import Clock, SystemClock
from tasks.app import bind_tasks, create_celery
from tasks.context import TaskContext
from tasks.dispatch import CeleryDispatcher, InlineDispatcher
from tasks.ledger import Ledger
from tasks.registry import catalogue
from tasks.resharding import LiveRouting, ShardGuard
from tasks.writers import start_stream_writers
from web.deps import Deps
from web.token_cache import TokenCache

LEASE_TTL_MS = 10_000
"""How long a crashed singleton keeps its lease: the wait before a second copy takes over."""


def replication_channel(config: HomeserverConfig) -> str:
    return f"{config.redis.key_prefix}ganglion:{config.server_name}:replication"


def redis_doorbell(config: HomeserverConfig) -> Doorbell:
    return RedisDoorbell(config.redis.url, replication_channel(config))


@dataclass(frozen=True)
class Monolith:
    deps: Deps
    context: TaskContext


def build_monolith(config: HomeserverConfig, clock: Clock | None = None) -> Monolith:
    """One process: tasks run inline, replication and rate limits stay in memory."""
    clock = clock or SystemClock()
    database = Database(config.database)
    stores = Stores()
    doorbell = LocalDoorbell()
    holder: list[TaskContext] = []
    dispatcher = InlineDispatcher(catalogue(), lambda: holder[0])
    signing_key = load_signing_key(config.signing_key_path)
    push_rules = PushRulesCache(stores.push_rules)  # one process: the writer and the views share it
    federation = build_federation(config, signing_key, database, stores, clock)
    context = TaskContext(config, database, stores, doorbell, clock, dispatcher, signing_key, push_rules,
                          federation_client=federation.client)
    holder.append(context)
    deps = Deps(config, database, stores, dispatcher, doorbell, clock, MemoryBuckets(), TokenCache(), signing_key,
                federation, push_rules=push_rules)
    return Monolith(deps, context)


def build_web_worker(config: HomeserverConfig, clock: Clock | None = None) -> Deps:
    """A web worker of the worker shape: reads the database, sends work to Celery, shares state via Redis."""
    clock = clock or SystemClock()
    celery = create_celery(config)
    database, stores, doorbell = Database(config.database), Stores(), redis_doorbell(config)
    routing = LiveRouting(config, database, stores)
    doorbell.listen(routing.on_ring)
    dispatcher = CeleryDispatcher(celery, catalogue(), routing, config.workers.replication_secret,
                                  ledger=Ledger(database, stores), max_wait=config.redis.result_timeout)
    client = redis.Redis.from_url(config.redis.url, socket_timeout=2, socket_connect_timeout=2)
    buckets = RedisBuckets(client, f"{config.redis.key_prefix}ganglion:{config.server_name}:ratelimit:")
    revocations = RedisTokenRevocations(client, f"{config.redis.key_prefix}ganglion:{config.server_name}:revoked:")
    signing_key = load_signing_key(config.signing_key_path)
    return Deps(config, database, stores, dispatcher, doorbell, clock, buckets, TokenCache(), signing_key,
                build_federation(config, signing_key, database, stores, clock), revocations=revocations)


def instance_lease(config: HomeserverConfig, name: str, ttl_ms: int = LEASE_TTL_MS) -> Lease:
    """The lease of a singleton of this deployment (``beat``, ``worker:NAME``), under the Redis key prefix."""
    client = redis.Redis.from_url(config.redis.url, socket_timeout=2, socket_connect_timeout=2)
    return Lease(client, f"{config.redis.key_prefix}ganglion:{config.server_name}:lease:{name}", ttl_ms)


def build_task_worker(config: HomeserverConfig, clock: Clock | None = None, *,
                      writes_streams: bool = True) -> tuple[Celery, TaskContext]:
    """A Celery worker: the app with every task bound to this process's context, routing by the live shard map.
    Only the process running the instance's ordered pool catches up its stream writer positions
    (``writes_streams``)."""
    clock = clock or SystemClock()
    celery = create_celery(config)
    tasks = catalogue()
    secret = config.workers.replication_secret
    database, stores = Database(config.database), Stores()
    routing = LiveRouting(config, database, stores)
    dispatcher = CeleryDispatcher(celery, tasks, routing, secret, ledger=Ledger(database, stores),
                                  max_wait=config.redis.result_timeout)
    guard = ShardGuard(routing, config.workers.name, database, stores)
    signing_key = load_signing_key(config.signing_key_path)
    context = TaskContext(config, database, stores, redis_doorbell(config), clock, dispatcher, signing_key,
                          shard_guard=guard,
                          federation_client=build_federation(config, signing_key, database, stores, clock).client)
    context.doorbell.listen(context.push_rules.on_ring)
    context.doorbell.listen(routing.on_ring)
    bind_tasks(celery, tasks, context, secret, config.workers.replication_previous_secret)
    if writes_streams:
        start_stream_writers(context, routing.streams_written_by(config.workers.name))
    return celery, context
