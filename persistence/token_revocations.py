"""Which access tokens a process must not take from its cache: revocation that holds on every process at once.

The web tier caches token lookups per process (``web/token_cache.py``) and evicts on a doorbell ring; but a ring
arrives some milliseconds after ``/logout`` answered, and not at all while Redis is down. So before a revoking
request answers, it also marks the token digests in Redis (:meth:`RedisTokenRevocations.revoke`), and every cache
hit asks Redis whether its token is marked. A marked token, or a question Redis cannot answer, sends the lookup to
the database, where the revoked token no longer exists: an outage makes requests slower, never a revoked token
live longer. A mark outlives any cache entry (:data:`MARK_SECONDS`), so no process can still hold one it missed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import redis

logger = logging.getLogger(__name__)

MARK_SECONDS = 900
"""How long a revoked token stays marked: beyond the token cache's own lifetime (300 s) with room to spare."""


class TokenRevocations(Protocol):
    def revoke(self, token_hashes: Sequence[str]) -> None:
        """Mark tokens (already deleted from the database) so no process trusts a cached copy of them."""

    def trusts_cached(self, token_hash: str) -> bool:
        """Whether a cached lookup of ``token_hash`` may be used; False sends the lookup to the database."""


class LocalTokenRevocations:
    """One process (the monolith): its cache is evicted in the revoking request itself, so every cached entry is
    trustworthy."""

    def revoke(self, token_hashes: Sequence[str]) -> None:
        pass

    def trusts_cached(self, token_hash: str) -> bool:
        return True


class RedisTokenRevocations:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    def revoke(self, token_hashes: Sequence[str]) -> None:
        try:
            with self._client.pipeline(transaction=False) as pipeline:
                for token_hash in token_hashes:
                    pipeline.set(f"{self._prefix}{token_hash}", 1, ex=MARK_SECONDS)
                pipeline.execute()
        except redis.RedisError:
            # The tokens are gone from the database; processes that cannot reach Redis either distrust their
            # caches, so they look the tokens up there.
            logger.warning("could not mark %d revoked tokens in Redis", len(token_hashes), exc_info=True)

    def trusts_cached(self, token_hash: str) -> bool:
        try:
            return not self._client.exists(f"{self._prefix}{token_hash}")
        except redis.RedisError:
            return False
