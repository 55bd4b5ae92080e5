"""The Celery application, built from config (never at import time) and, in a worker, bound to its context."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task
from kombu import Queue
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import OperationalError as DatabaseUnavailable

from config import HomeserverConfig
from config.routing import celery_settings
from tasks.envelope import MAC_HEADER, is_authentic, run_body
from tasks.registry import TaskSpec

logger = logging.getLogger(__name__)

# Transient failures worth retrying with backoff; a bug is not retried, it is logged and acked.
_TRANSIENT = (DatabaseUnavailable, RedisConnectionError)


def create_celery(config: HomeserverConfig) -> Celery:
    app = Celery("ganglion", set_as_current=False)
    broker = config.redis.url
    app.conf.update(celery_settings(broker_url=broker, result_url=broker, key_prefix=config.redis.key_prefix))
    app.conf.task_queues = [Queue(name) for name in config.routing.all_queues()]
    return app


def bind_tasks(app: Celery, tasks: dict[str, TaskSpec], context: Any, secret: str | None) -> None:
    """Register every task body on ``app`` with ``context`` bound, for the worker process that runs them."""
    for spec in tasks.values():
        _bind(app, spec, context, secret)


def _bind(app: Celery, spec: TaskSpec, context: Any, secret: str | None) -> None:
    def run(self: Task, **kwargs: Any) -> dict[str, Any] | None:
        # A worker sees custom headers on the request itself; an eager apply() nests them under "headers".
        mac = self.request.get(MAC_HEADER) or (self.request.headers or {}).get(MAC_HEADER)
        if not is_authentic(secret, spec.name, kwargs, mac):
            # Acked and dropped: retrying a forged message would never make it genuine.
            logger.error("dropped %s: its MAC does not match worker_replication_secret", spec.name)
            return None
        return run_body(spec, context, kwargs)

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
