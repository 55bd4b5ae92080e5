"""The Celery application, built from config (never at import time) and, in a worker, bound to its context."""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from celery.exceptions import Ignore
from kombu import Queue
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import OperationalError as DatabaseUnavailable

from config import HomeserverConfig
from config.routing import celery_settings
from tasks.envelope import MAC_HEADER, Stamp, is_authentic, now_ms, signed_headers
from tasks.ledger import drop, replay_window_ms, run_body
from tasks.registry import TaskSpec
from tasks.resharding import EPOCH_HEADER, HOPS_HEADER, ShardGuard, forward

# Transient failures worth retrying with backoff; a bug is not retried, it is logged and acked.
_TRANSIENT = (DatabaseUnavailable, RedisConnectionError)


def create_celery(config: HomeserverConfig) -> Celery:
    app = Celery("ganglion", set_as_current=False)
    broker = config.redis.url
    app.conf.update(celery_settings(broker_url=broker, result_url=broker, key_prefix=config.redis.key_prefix,
                                    visibility_timeout=config.redis.visibility_timeout))
    app.conf.task_queues = [Queue(name) for name in config.routing.all_queues()]
    return app


def bind_tasks(app: Celery, tasks: dict[str, TaskSpec], context: Any, secret: str | None,
               previous_secret: str | None = None) -> None:
    """Register every task body on ``app`` with ``context`` bound, for the worker process that runs them.
    Messages must be signed with ``secret`` or, during a rotation, ``previous_secret`` (when a secret is set)."""
    secrets = tuple(key for key in (secret, previous_secret) if key) if secret else ()
    window = replay_window_ms(context.config.redis.visibility_timeout)
    for spec in tasks.values():
        _bind(app, spec, context, secret, secrets, window)


def _header(task: Task, name: str) -> Any:
    # A worker sees custom headers on the request itself; an eager apply() nests them under "headers".
    return task.request.get(name) or (task.request.headers or {}).get(name)


def _admitted(spec: TaskSpec, stamp: Stamp, secrets: tuple[str, ...], window_ms: int, kwargs: dict[str, Any],
              mac: Any) -> bool:
    """Whether a message may run at all: genuine (its MAC) and not older than the replay window. Both kinds of
    drop are acked: retrying a forged or stale message would never make it acceptable."""
    if not is_authentic(secrets, spec.name, kwargs, stamp, mac):
        drop(spec.name, stamp.task_id, "forged")  # its MAC matches no worker_replication_secret
        return False
    issued = stamp.issued_ms
    if not spec.runs_however_late and issued and now_ms() - issued > window_ms:
        drop(spec.name, stamp.task_id, "expired")
        return False
    return True


def _bind(app: Celery, spec: TaskSpec, context: Any, secret: str | None, secrets: tuple[str, ...],
          window_ms: int) -> None:
    guard: ShardGuard | None = getattr(context, "shard_guard", None)

    def run(self: Task, **kwargs: Any) -> dict[str, Any] | None:
        stamp = Stamp.read(str(self.request.id), lambda name: _header(self, name))
        if not _admitted(spec, stamp, secrets, window_ms, kwargs, _header(self, MAC_HEADER)):
            return None
        if guard is None:
            return run_body(spec, context, kwargs, stamp)
        guard.in_flight.enter()
        try:
            hops = int(_header(self, HOPS_HEADER) or 0)
            target = guard.admit(spec.family, spec.shard_key(kwargs), int(_header(self, EPOCH_HEADER) or 0), hops)
            if target is not None:
                # The key moved (tasks/resharding.py): the owner answers under the same task id, and this
                # message is acked without a result of its own.
                forward(app, spec.name, kwargs, stamp.task_id, signed_headers(secret, spec.name, kwargs, stamp),
                        target, hops)
                raise Ignore()
            return run_body(spec, context, kwargs, stamp)
        finally:
            guard.in_flight.leave(guard.in_flight.current())

    run.__name__ = spec.name.replace(".", "_")
    app.task(
        bind=True,
        shared=False,  # bound to this app's context only; never into other Celery apps of the process
        name=spec.name,
        ignore_result=not spec.returns_result,
        autoretry_for=_TRANSIENT,
        retry_backoff=True,
        retry_backoff_max=30,
        max_retries=8,
    )(run)
