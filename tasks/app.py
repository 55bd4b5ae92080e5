"""The Celery application, built from config (never at import time) and, in a worker, bound to its context."""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Queue
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import OperationalError as DatabaseUnavailable

from config import HomeserverConfig
from config.routing import celery_settings
from tasks.dispatch import run_body
from tasks.registry import TaskSpec

# Transient failures worth retrying with backoff; a bug is not retried, it is logged and acked.
_TRANSIENT = (DatabaseUnavailable, RedisConnectionError)


def create_celery(config: HomeserverConfig) -> Celery:
    app = Celery("ganglion", set_as_current=False)
    broker = config.redis.url
    app.conf.update(celery_settings(broker_url=broker, result_url=broker))
    app.conf.task_queues = [Queue(name) for name in config.routing.all_queues()]
    return app


def bind_tasks(app: Celery, tasks: dict[str, TaskSpec], context: Any) -> None:
    """Register every task body on ``app`` with ``context`` bound, for the worker process that runs them."""
    for spec in tasks.values():
        _bind(app, spec, context)


def _bind(app: Celery, spec: TaskSpec, context: Any) -> None:
    def run(**kwargs: Any) -> dict[str, Any]:
        return run_body(spec, context, kwargs)

    run.__name__ = spec.name.replace(".", "_")
    app.task(
        name=spec.name,
        ignore_result=not spec.returns_result,
        autoretry_for=_TRANSIENT,
        retry_backoff=True,
        retry_backoff_max=30,
        max_retries=8,
    )(run)
