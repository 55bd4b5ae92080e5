"""Token buckets for rate limiting: in memory for the monolith, in Redis when several processes share them.

``take`` answers None when the action is allowed, else how many milliseconds until it would be. A limit with a
non-positive rate is treated as "no limit", which is how an admin switches one off.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Protocol

import redis

logger = logging.getLogger(__name__)


class Buckets(Protocol):
    def take(self, key: str, per_second: float, burst: int, now_ms: int) -> int | None: ...


class MemoryBuckets:
    def __init__(self) -> None:
        self._state: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, per_second: float, burst: int, now_ms: int) -> int | None:
        if per_second <= 0:
            return None
        with self._lock:
            tokens, updated = self._state.get(key, (float(burst), now_ms))
            tokens = min(float(burst), tokens + max(now_ms - updated, 0) / 1000 * per_second)
            if tokens >= 1:
                self._state[key] = (tokens - 1, now_ms)
                return None
            self._state[key] = (tokens, now_ms)
            return math.ceil((1 - tokens) / per_second * 1000)


# KEYS[1] bucket; ARGV: per_second, burst, now_ms, ttl_ms. Returns -1 when allowed, else retry-after ms.
_TAKE_SCRIPT = """
local state = redis.call('HMGET', KEYS[1], 't', 'ts')
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local tokens = tonumber(state[1]) or burst
local updated = tonumber(state[2]) or now
if now > updated then tokens = math.min(burst, tokens + (now - updated) / 1000 * rate) end
local result = -1
if tokens >= 1 then tokens = tokens - 1 else result = math.ceil((1 - tokens) / rate * 1000) end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(math.max(now, updated)))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return result
"""


class RedisBuckets:
    """Buckets shared by every process; one Lua call per check keeps read-modify-write atomic."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._script = client.register_script(_TAKE_SCRIPT)
        self._prefix = prefix

    def take(self, key: str, per_second: float, burst: int, now_ms: int) -> int | None:
        if per_second <= 0:
            return None
        ttl_ms = max(int(burst / per_second * 1000) + 1000, 1000)
        try:
            result = int(self._script(keys=[f"{self._prefix}{key}"], args=[per_second, burst, now_ms, ttl_ms]))
        except redis.RedisError:
            # Failing open: an unavailable limiter must not lock every user out.
            logger.warning("rate limiter unavailable; allowing %s", key, exc_info=True)
            return None
        return None if result < 0 else result
