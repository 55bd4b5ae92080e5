"""The Celery application, built from config (never at import time) and, in a worker, bound to its context."""

from __future__ import annotations

import logging
from collections.abc import Callable
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
from tasks.queue_drain import QueueDrain, Taken
from tasks.registry import TaskSpec
from tasks.resharding import EPOCH_HEADER, HOPS_HEADER, ShardGuard, forward

logger = logging.getLogger(__name__)

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
    drain = QueueDrain(app)
    for spec in tasks.values():
        _bind(app, spec, context, secret, secrets, window, drain)


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
          window_ms: int, drain: QueueDrain | None = None) -> None:
    guard: ShardGuard | None = getattr(context, "shard_guard", None)

    def routed_elsewhere(kwargs: dict[str, Any], stamp: Stamp, header: Callable[[str], Any]) -> bool:
        """Whether the key moved (tasks/resharding.py): then the owner answers under the same task id, and this
        message is acked without a result of its own."""
        if guard is None:
            return False
        hops = int(header(HOPS_HEADER) or 0)
        target = guard.admit(spec.family, spec.shard_key(kwargs), int(header(EPOCH_HEADER) or 0), hops)
        if target is None:
            return False
        forward(app, spec.name, kwargs, stamp.task_id, signed_headers(secret, spec.name, kwargs, stamp), target,
                hops)
        return True

    def run_with_queued(first: dict[str, Any], stamp: Stamp, queue: str) -> dict[str, Any]:
        """Run this message with the ones of the same task queued behind it, as one batch (tasks/queue_drain.py)."""
        assert drain is not None
        batch: list[tuple[Taken | None, dict[str, Any], Stamp]] = [(None, first, stamp)]
        for taken in drain.take(queue, spec.name):
            queued_stamp = Stamp.read(taken.task_id, taken.header)
            if (not _admitted(spec, queued_stamp, secrets, window_ms, taken.kwargs, taken.header(MAC_HEADER))
                    or routed_elsewhere(taken.kwargs, queued_stamp, taken.header)):
                drain.settle(taken, None, spec.returns_result)
                continue
            batch.append((taken, taken.kwargs, queued_stamp))
        if len(batch) == 1:
            return run_body(spec, context, first, stamp)
        runs = []
        with context.group_commit.held():  # handed over one by one, in queue order; committed together
            for _taken, kwargs, queued_stamp in batch:
                expected = context.group_commit.queued() + 1
                future = drain.submit(run_body, spec, context, kwargs, queued_stamp)
                context.group_commit.wait_for_more(expected, future.done)
                runs.append(future)
        for (taken, _kwargs, _stamp), future in zip(batch[1:], runs[1:], strict=True):
            assert taken is not None
            try:
                envelope = future.result()
            except Exception:
                logger.warning("%s %s failed in a batch; put back on its queue", spec.name, taken.task_id,
                               exc_info=True)
                drain.put_back(taken)
            else:
                drain.settle(taken, envelope, spec.returns_result)
        return runs[0].result()  # type: ignore[no-any-return]

    def run(self: Task, **kwargs: Any) -> dict[str, Any] | None:
        stamp = Stamp.read(str(self.request.id), lambda name: _header(self, name))
        if not _admitted(spec, stamp, secrets, window_ms, kwargs, _header(self, MAC_HEADER)):
            return None
        if guard is not None:
            guard.in_flight.enter()
        try:
            if routed_elsewhere(kwargs, stamp, lambda name: _header(self, name)):
                raise Ignore()
            queue = (self.request.delivery_info or {}).get("routing_key")
            if drain is not None and spec.batched and queue:
                return run_with_queued(kwargs, stamp, str(queue))
            return run_body(spec, context, kwargs, stamp)
        finally:
            if guard is not None:
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
