"""An in-process cache of access-token lookups, so the hot paths do not hit the database per request.

Entries are evicted when any process revokes a token (it rings the doorbell with the token digests), and the
whole cache is dropped on a doorbell resync, since an eviction may have been missed. A short TTL bounds the
damage of anything else going wrong.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from persistence.doorbell import RESYNC, Ring

TOKENS_STREAM = "access_tokens"


@dataclass(frozen=True)
class Requester:
    """Who is making the request, as established by their access token."""

    user_id: str
    device_id: str
    is_guest: bool
    token_hash: str
    valid_until_ts: int | None
    appservice_id: str | None = None
    """Set when the request used an application service's ``as_token`` (``web/appservice_auth.py``)."""


class TokenCache:
    def __init__(self, max_entries: int = 50_000, ttl_ms: int = 300_000) -> None:
        self._entries: OrderedDict[str, tuple[Requester, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_entries = max_entries
        self._ttl_ms = ttl_ms

    def get(self, token_hash: str, now_ms: int) -> Requester | None:
        with self._lock:
            entry = self._entries.get(token_hash)
            if entry is None:
                return None
            requester, cached_at = entry
            if now_ms - cached_at > self._ttl_ms:
                del self._entries[token_hash]
                return None
            self._entries.move_to_end(token_hash)
            return requester

    def put(self, requester: Requester, now_ms: int) -> None:
        with self._lock:
            self._entries[requester.token_hash] = (requester, now_ms)
            self._entries.move_to_end(requester.token_hash)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def evict(self, token_hashes: tuple[str, ...] | list[str]) -> None:
        with self._lock:
            for token_hash in token_hashes:
                self._entries.pop(token_hash, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def on_ring(self, ring: Ring) -> None:
        """Doorbell listener: drop revoked tokens, or everything after a possible gap."""
        if ring == RESYNC:
            self.clear()
        elif ring.stream == TOKENS_STREAM:
            self.evict(ring.keys)
