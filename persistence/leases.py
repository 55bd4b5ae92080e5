"""Leases in Redis: a singleton (beat, the ordered consumer of an instance) runs only while it holds one.

A lease is a key holding the holder's fencing token, with an expiry the holder keeps renewing. Tokens come from a
counter that only grows, so a holder that stalled past its expiry (a GC pause, a stopped VM) finds a different
token on its next renewal or fence check and stands down instead of acting beside its successor. Every step is one
Lua script, so "is it still mine?" and "extend/delete it" are never split by another client.

A second copy of a singleton therefore waits: it retries the lease until the holder stops renewing (clean exit
releases it at once; a crash frees it after ``ttl``).

Redis may restart without its data (it keeps nothing on disk by default). A holder whose key vanished takes it back
under the same token on its next renewal, unless another process took the lease first, in which case it stands down;
so a Redis restart does not stop every singleton at once. Because the counter vanishes too, a token is never below
the Redis clock in microseconds: tokens handed out after a restart still exceed every token handed out before it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

logger = logging.getLogger(__name__)

_ACQUIRE = """
if redis.call('exists', KEYS[1]) == 1 then return false end
local now = redis.call('time')
local token = math.max(tonumber(redis.call('get', KEYS[2]) or '0') + 1, now[1] * 1000000 + now[2])
redis.call('set', KEYS[2], string.format('%d', token))
redis.call('set', KEYS[1], string.format('%d', token), 'px', ARGV[1])
return token
"""
_RENEW = """
local holder = redis.call('get', KEYS[1])
if holder == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
if holder then return 0 end
if tonumber(redis.call('get', KEYS[2]) or '0') < tonumber(ARGV[1]) then redis.call('set', KEYS[2], ARGV[1]) end
redis.call('set', KEYS[1], ARGV[1], 'px', ARGV[2])
return 1
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class Lease:
    """One named lease. Stateless apart from the Redis client: the token is the caller's to keep."""

    def __init__(self, client: redis.Redis, key: str, ttl_ms: int) -> None:
        self.key = key
        self.ttl_ms = ttl_ms
        self._client = client
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def acquire(self) -> int | None:
        """A new fencing token if the lease was free, else None."""
        token = self._acquire(keys=[self.key, f"{self.key}:fence"], args=[self.ttl_ms])
        return None if token is None else int(token)

    def renew(self, token: int) -> bool:
        """Extend the lease if ``token`` holds it, or take it back if nobody does (it expired, or Redis lost it)."""
        return bool(self._renew(keys=[self.key, f"{self.key}:fence"], args=[str(token), self.ttl_ms]))

    def release(self, token: int) -> bool:
        return bool(self._release(keys=[self.key], args=[str(token)]))

    def holder(self) -> int | None:
        value = self._client.get(self.key)
        return None if value is None else int(value)

    def holds(self, token: int | None) -> bool:
        """The fence: whether ``token`` is still the current holder's, asked of Redis right now."""
        return token is not None and self.holder() == token


class LeaseKeeper:
    """A daemon thread that takes the lease when it is free and renews it while held.

    ``on_acquired`` and ``on_lost`` run on the keeper's thread. A renewal that cannot reach Redis is retried until
    the lease would have expired; after that the keeper treats it as lost, since another process may hold it now.
    """

    def __init__(self, lease: Lease, *, on_acquired: Callable[[int], None] | None = None,
                 on_lost: Callable[[int], None] | None = None) -> None:
        self.lease = lease
        self._on_acquired = on_acquired
        self._on_lost = on_lost
        self._token: int | None = None
        self._stop = threading.Event()
        self._acquired = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease:{lease.key}", daemon=True)

    @property
    def interval(self) -> float:
        return self.lease.ttl_ms / 3000

    @property
    def token(self) -> int | None:
        return self._token

    def start(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def wait_acquired(self, timeout: float | None = None) -> bool:
        return self._acquired.wait(timeout)

    def is_held(self) -> bool:
        """Whether this process may act now: it believes it holds the lease and Redis agrees (the fence)."""
        token = self._token
        try:
            return self.lease.holds(token)
        except redis.RedisError:
            return False

    def stop(self) -> None:
        """Stop renewing and release the lease, so a waiting copy takes over at once."""
        self._stop.set()
        self._thread.join(timeout=5)
        token, self._token = self._token, None
        if token is not None:
            try:
                self.lease.release(token)
            except redis.RedisError:
                logger.warning("could not release lease %s; it expires in %d ms", self.lease.key, self.lease.ttl_ms)

    def _run(self) -> None:
        last_renewed = 0.0
        waiting_logged = False
        while not self._stop.is_set():
            try:
                if self._token is None:
                    token = self.lease.acquire()
                    if token is not None:
                        self._token, last_renewed, waiting_logged = token, time.monotonic(), False
                        logger.info("holding lease %s (token %d)", self.lease.key, token)
                        self._acquired.set()
                        if self._on_acquired:
                            self._on_acquired(token)
                    elif not waiting_logged:
                        logger.info("lease %s is held by another process; waiting", self.lease.key)
                        waiting_logged = True
                elif self.lease.renew(self._token):
                    last_renewed = time.monotonic()
                else:
                    self._lose()
            except redis.RedisError as error:
                if self._token is not None and time.monotonic() - last_renewed > self.lease.ttl_ms / 1000:
                    self._lose()
                logger.warning("lease %s: %s", self.lease.key, error)
            self._stop.wait(self.interval)

    def _lose(self) -> None:
        token, self._token = self._token, None
        self._acquired.clear()
        logger.warning("lost lease %s (token %s)", self.lease.key, token)
        if self._on_lost and token is not None:
            self._on_lost(token)
