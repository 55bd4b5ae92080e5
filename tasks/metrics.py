"""Prometheus metrics of a Celery worker process: task latency, outcomes and failures by task name and queue.

Recorded from Celery's task signals, so task bodies stay free of instrumentation. The queue is the one the
message was delivered from (its routing key), which is what tells ``events.persister1`` from ``events.persister2``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from celery import Task
from celery.signals import task_failure, task_postrun, task_prerun
from prometheus_client import Counter, Histogram

TASK_SECONDS = Histogram(
    "ganglion_task_duration_seconds", "Time a task body ran, by task name and queue", ["task", "queue"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
TASKS_DONE = Counter("ganglion_tasks_total", "Tasks run, by task name, queue and final state",
                     ["task", "queue", "state"])
TASK_FAILURES = Counter("ganglion_task_failures_total", "Tasks whose body raised, by task name and queue",
                        ["task", "queue"])
DROPPED_MESSAGES = Counter(
    "ganglion_task_messages_dropped_total",
    "Task messages acked without taking effect, by task name and reason: forged (MAC), expired (older than the "
    "replay window), already_run (its task id has an outcome: a redelivery or a replay), late (its caller had "
    "given up waiting)", ["task", "reason"])

_started: dict[str, float] = {}
_lock = threading.Lock()


def _queue(task: Task | None) -> str:
    info = getattr(getattr(task, "request", None), "delivery_info", None) or {}
    return str(info.get("routing_key") or "unknown")


def _on_prerun(task_id: str, **_: Any) -> None:
    with _lock:
        _started[task_id] = time.perf_counter()


def _on_postrun(task_id: str, task: Task, state: str | None = None, **_: Any) -> None:
    with _lock:
        started = _started.pop(task_id, None)
    queue = _queue(task)
    if started is not None:
        TASK_SECONDS.labels(task.name, queue).observe(time.perf_counter() - started)
    TASKS_DONE.labels(task.name, queue, state or "UNKNOWN").inc()


def _on_failure(sender: Task, **_: Any) -> None:
    TASK_FAILURES.labels(sender.name, _queue(sender)).inc()


def install_task_metrics() -> None:
    """Connect the signal handlers (weakly referenced by Celery, so these module functions keep them alive)."""
    task_prerun.connect(_on_prerun)
    task_postrun.connect(_on_postrun)
    task_failure.connect(_on_failure)
