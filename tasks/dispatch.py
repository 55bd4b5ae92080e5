"""Dispatchers: how a task named by the web tier (or by another task, fire-and-forget) gets run.

:class:`InlineDispatcher` runs the body in the calling thread (the monolith); :class:`CeleryDispatcher` routes it
to the queue the routing table picks and, for ``call``, waits for the result. Both deliver the same thing:
a task's return value, or the MatrixError it returned as data (DESIGN.md guarantee 6).

Every message gets its task id and stamp here (``tasks/envelope.py``). When ``call`` stops waiting (the wait ran
out, or Redis went away while it waited) it settles the task's outcome in the ledger before answering
(``tasks/ledger.py``): 503 only if the task can no longer take effect, otherwise the result it committed. Redis
unavailable anywhere here is a 503 the client may retry, never a 500.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from celery import Celery
from celery.exceptions import TimeoutError as CeleryTimeout
from kombu import Queue
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from config.routing import shard_for
from protocol.errors import ServerUnavailable
from tasks.envelope import Stamp, signed_headers, unwrap
from tasks.ledger import Ledger, run_body
from tasks.registry import TaskSpec
from tasks.resharding import EPOCH_HEADER, LiveRouting

logger = logging.getLogger(__name__)


OUTBOUND_FAMILIES = {"push": 1, "appservice": 1, "federation": 8}
"""Families whose tasks talk to other servers, and how many threads the monolith runs them on: off the request
(or task) that poked them, so a slow gateway never holds it up; federation on several, so one destination that
does not answer (a request may wait ``federation.client_timeout``) does not hold up the others."""


class InlineDispatcher:
    """Runs tasks in-process. The context is supplied late because the context itself holds this dispatcher."""

    def __init__(self, tasks: dict[str, TaskSpec], context: Callable[[], Any],
                 disabled_families: frozenset[str] = frozenset()) -> None:
        self._tasks = tasks
        self._context = context
        self._disabled = disabled_families
        self._outbound = {family: ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"inline-{family}")
                          for family, threads in OUTBOUND_FAMILIES.items()}  # threads start lazily

    def send(self, name: str, **kwargs: Any) -> None:
        if self._tasks[name].family in self._disabled:
            # As in the worker shape, where no queue takes them: ``start_pushers: false``, ``notify_appservices:
            # false`` and the like switch the work off in this process.
            logger.debug("%s not run: %s is switched off in this process", name, self._tasks[name].family)
            return
        pool = self._outbound.get(self._tasks[name].family)
        if pool is not None:
            pool.submit(self._run, name, kwargs)
            return
        self._run(name, kwargs)

    def _run(self, name: str, kwargs: dict[str, Any]) -> None:
        try:
            run_body(self._tasks[name], self._context(), kwargs)
        except Exception:
            # The triggering change is committed and its outbox row kept; the sweep will retry.
            logger.exception("inline task %s failed", name)

    def call(self, name: str, *, timeout: float, **kwargs: Any) -> Any:
        return unwrap(run_body(self._tasks[name], self._context(), kwargs))

    def shard_of(self, family: str, key: str) -> str:
        return "inline"


RETRY_AFTER_MS = 1000


def _raise_unless_outage(error: Exception) -> None:
    """Let a Redis outage through as such; re-raise anything else. Celery's result consumer reports a Redis it
    could not reconnect to as a RuntimeError ("must be restarted") caused by the connection error, though it
    reconnects on the next call once Redis is back."""
    if isinstance(error, RuntimeError) and not isinstance(error.__cause__, (BrokerError, RedisError)):
        raise error


class CeleryDispatcher:
    """Routes by the shard map in force (``tasks/resharding.py``) and stamps each message with its epoch.

    ``max_wait`` (``redis.result_timeout``) caps how long ``call`` waits for any result."""

    def __init__(self, app: Celery, tasks: dict[str, TaskSpec], routing: LiveRouting, secret: str | None = None,
                 *, ledger: Ledger, max_wait: float | None = None) -> None:
        self._app = app
        self._tasks = tasks
        self._routing = routing
        self._secret = secret
        self._ledger = ledger
        self._max_wait = max_wait

    def _queue(self, spec: TaskSpec, kwargs: dict[str, Any]) -> str | Queue | None:
        name = self._routing.table().queue_for(spec.family, spec.shard_key(kwargs))
        # A queue added by a shard change after this process started is declared as it is first used.
        return name if name is None or name in self._app.amqp.queues else Queue(name)

    def shard_of(self, family: str, key: str) -> str:
        instances = self._routing.table().instances(family)
        return shard_for(instances, key) if instances else ""

    def _message_options(self, spec: TaskSpec, kwargs: dict[str, Any], stamp: Stamp) -> dict[str, Any]:
        """Task id, headers (stamp, MAC, epoch) and the arguments' description Celery shows in events and logs:
        the shard key alone. Left to Celery, that description is a ``saferepr`` of every argument (a message body
        too), built for every message: a tenth of a web worker's CPU per send during a burst (bench/README.md)."""
        key = spec.shard_key(kwargs)
        return {"task_id": stamp.task_id,
                "headers": {**signed_headers(self._secret, spec.name, kwargs, stamp),
                            EPOCH_HEADER: self._routing.epoch(spec.family)},
                "argsrepr": "()", "kwargsrepr": "{}" if key is None else f"{{{spec.shard_param!r}: {key!r}}}"}

    def send(self, name: str, **kwargs: Any) -> None:
        spec = self._tasks[name]
        queue = self._queue(spec, kwargs)
        if queue is None:
            logger.debug("%s not sent: no instance consumes %s", name, spec.family)
            return
        try:
            self._app.send_task(name, kwargs=kwargs, queue=queue, ignore_result=True,
                                **self._message_options(spec, kwargs, Stamp.new()))
        except (BrokerError, RedisError):
            logger.warning("could not enqueue %s on %s; the outbox sweep will retry", name, queue, exc_info=True)

    def call(self, name: str, *, timeout: float, **kwargs: Any) -> Any:
        spec = self._tasks[name]
        queue = self._queue(spec, kwargs)
        if queue is None:
            raise ServerUnavailable(f"No worker is configured for {spec.family}")
        wait = min(timeout, self._max_wait) if self._max_wait else timeout
        stamp = Stamp.new(wait)
        try:
            result = self._app.send_task(name, kwargs=kwargs, queue=queue,
                                         **self._message_options(spec, kwargs, stamp))
        except (BrokerError, RedisError, RuntimeError) as error:
            _raise_unless_outage(error)
            # Nothing may have been enqueued, or the message may be in Redis: settle it either way.
            return self._give_up(spec, stamp, "The task queue is unavailable; try again")
        try:
            envelope = result.get(timeout=wait, propagate=True, disable_sync_subtasks=True)
        except CeleryTimeout:
            return self._give_up(spec, stamp, "The server is busy; try again")
        except (BrokerError, RedisError, RuntimeError) as error:
            _raise_unless_outage(error)
            return self._give_up(spec, stamp, "The task queue is unavailable; try again")
        finally:
            with contextlib.suppress(BrokerError, RedisError):  # a result left behind expires (result_expires)
                result.forget()
        return unwrap(envelope)

    def _give_up(self, spec: TaskSpec, stamp: Stamp, message: str) -> Any:
        """The ledger decides (``tasks/ledger.py``): a result the task committed meanwhile, or 503 for good."""
        envelope = self._ledger.give_up(stamp.task_id, spec.name)
        if envelope is None:
            raise ServerUnavailable(message, retry_after_ms=RETRY_AFTER_MS)
        return unwrap(envelope)
