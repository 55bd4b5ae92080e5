"""Batches for a Celery events writer: the running ``events.create`` takes the ones queued right behind it.

A Celery worker runs an events writer's queue in a pool of one thread (``config/pools.py``), so the group commit
(``tasks/group_commit.py``) would only ever see one event at a time. Instead, when an ``events.create`` message
starts, :class:`QueueDrain` takes from the same queue the messages that would run next, as long as they are
``events.create`` too (at most :data:`BATCH_LIMIT`): anything else, a resharding fence above all, stays where it is
and is never overtaken. Each is taken atomically (a Lua script pops the queue's head only if it is one) and
recorded in kombu's ``unacked`` set, exactly as Celery's own consumer takes a message: should this process die,
it comes back after ``redis.visibility_timeout`` and the task ledger makes its second run harmless.

The taken messages are admitted as the task wrapper admits any (MAC, age, shard: ``tasks/app.py``), then every
body runs on a thread of its own while the group commit is held, handed over one after another in queue order,
so they commit as one batch in that order. Each result goes to the result backend under its own task id, and the
message is acked after its transaction committed. A body that raised (the database went away) is put back on the
queue, to run again as Celery would retry it.
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from celery import Celery, states
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

BATCH_LIMIT = 31
"""Messages taken behind the running one: with it, at most 32 events per transaction."""

_POP_IF_TASK = """
local raw = redis.call('LINDEX', KEYS[1], -1)
if not raw then return false end
local ok, message = pcall(cjson.decode, raw)
if not ok or type(message) ~= 'table' or type(message['headers']) ~= 'table' then return false end
if message['headers']['task'] ~= ARGV[1] then return false end
return redis.call('RPOP', KEYS[1])
"""
"""The next message of the queue (kombu publishes with LPUSH and consumes with BRPOP), if it is the task named."""


@dataclass(frozen=True)
class Taken:
    """A message taken off the queue: acked, or put back, once its body ran."""

    message: Any
    kwargs: dict[str, Any]

    @property
    def task_id(self) -> str:
        return str(self.message.headers["id"])

    def header(self, name: str) -> Any:
        return self.message.headers.get(name)


class QueueDrain:
    """One per Celery worker process; used by its ordered pool's single thread."""

    def __init__(self, app: Celery, limit: int = BATCH_LIMIT) -> None:
        self._app = app
        self._limit = limit
        self._lock = threading.Lock()
        self._connection: Any = None
        self._bodies = ThreadPoolExecutor(max_workers=limit + 1, thread_name_prefix="events-batch")

    def take(self, queue: str, task_name: str) -> list[Taken]:
        """The ``task_name`` messages next in ``queue``, in queue order, each now unacked."""
        with self._lock:
            channel = self._channel()
            pop = channel.client.register_script(_POP_IF_TASK)
            taken: list[Taken] = []
            while len(taken) < self._limit:
                try:
                    raw = pop(keys=[queue], args=[task_name])  # kombu's client adds redis.key_prefix
                except RedisError:
                    logger.warning("could not look behind %s on %s; running it alone", task_name, queue,
                                   exc_info=True)
                    break
                if not raw:
                    break
                message = channel.Message(json.loads(raw), channel=channel)
                channel.qos.append(message, message.delivery_tag)
                _args, kwargs, _embed = message.decode()
                taken.append(Taken(message, dict(kwargs)))
            return taken

    def submit(self, body: Any, *args: Any) -> Future[Any]:
        return self._bodies.submit(body, *args)

    def settle(self, taken: Taken, envelope: dict[str, Any] | None, returns_result: bool) -> None:
        """After its transaction: the result where its caller waits for it, then the ack."""
        with self._lock:
            if envelope is not None and returns_result:
                self._app.backend.store_result(taken.task_id, envelope, states.SUCCESS)
            taken.message.ack()

    def put_back(self, taken: Taken) -> None:
        """Its body raised (a transient failure): back on the queue, to run again."""
        with self._lock:
            taken.message.reject(requeue=True)

    def _channel(self) -> Any:
        if self._connection is None:
            self._connection = self._app.connection_for_read()
        return self._connection.default_channel
