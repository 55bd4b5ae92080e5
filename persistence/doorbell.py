"""The replication doorbell: after a writer commits, it announces "stream S is at P for keys K".

A ring carries no data; listeners re-read the database. So a lost ring only delays a wake-up, and after a
reconnect the Redis doorbell rings :data:`RESYNC` so listeners re-read everything they care about.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import redis

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ring:
    stream: str
    instance: str
    position: int
    keys: tuple[str, ...] = field(default=())

    def to_json(self) -> str:
        return json.dumps([self.stream, self.instance, self.position, list(self.keys)])

    @staticmethod
    def from_json(text: str) -> Ring:
        stream, instance, position, keys = json.loads(text)
        return Ring(str(stream), str(instance), int(position), tuple(str(key) for key in keys))


RESYNC = Ring(stream="*", instance="*", position=0)
"""Rung locally when ring messages may have been missed (for example after a Redis reconnect)."""

Listener = Callable[[Ring], None]


class Doorbell(Protocol):
    def ring(self, ring: Ring) -> None: ...

    def listen(self, listener: Listener) -> None: ...

    def wait_subscribed(self, timeout: float) -> bool:
        """Block until rings reach this process's listeners (at most ``timeout`` seconds); answers whether they
        do. A process serves long-polls only after this, so none waits out its timeout for a ring it missed."""

    def close(self) -> None: ...


class _Listeners:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def add(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def notify(self, ring: Ring) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(ring)
            except Exception:  # a broken listener must not silence the others
                logger.exception("doorbell listener failed for %s", ring)


class LocalDoorbell:
    """The monolith's doorbell: listeners are called in the ringing thread."""

    def __init__(self) -> None:
        self._listeners = _Listeners()

    def ring(self, ring: Ring) -> None:
        self._listeners.notify(ring)

    def listen(self, listener: Listener) -> None:
        self._listeners.add(listener)

    def wait_subscribed(self, timeout: float) -> bool:
        return True

    def close(self) -> None:
        pass


class RedisDoorbell:
    """Redis pub/sub on one channel per server; a daemon thread subscribes once the first listener arrives."""

    def __init__(self, url: str, channel: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5,
                                            health_check_interval=30)
        self._channel = channel
        self._listeners = _Listeners()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._subscribed = threading.Event()

    def ring(self, ring: Ring) -> None:
        try:
            self._client.publish(self._channel, ring.to_json())
        except redis.RedisError:
            # The data is committed; readers will see it on their next wake-up or resync.
            logger.warning("could not ring the doorbell for %s", ring, exc_info=True)

    def listen(self, listener: Listener) -> None:
        self._listeners.add(listener)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="doorbell", daemon=True)
            self._thread.start()

    def wait_subscribed(self, timeout: float) -> bool:
        return self._subscribed.wait(timeout)

    def _run(self) -> None:
        backoff = 0.1
        first = True
        while not self._stop.is_set():
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self._channel)
                self._subscribed.set()
                if not first:
                    self._listeners.notify(RESYNC)
                first, backoff = False, 0.1
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message and message["type"] == "message":
                        self._listeners.notify(Ring.from_json(message["data"].decode()))
            except redis.RedisError:
                self._subscribed.clear()
                logger.warning("doorbell subscription lost; reconnecting in %.1fs", backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                pubsub.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._client.close()
