"""Recording when and from where a device was last used, without a database write per request.

Each process remembers what it last wrote for a device and writes again only after :data:`INTERVAL_MS`, so a busy
device costs one small UPDATE per interval per process (Synapse batches the same information).
"""

from __future__ import annotations

import threading

from web.token_cache import Requester

INTERVAL_MS = 5 * 60 * 1000


class LastSeenRecorder:
    def __init__(self) -> None:
        self._written: dict[tuple[str, str], tuple[int, str | None]] = {}
        self._lock = threading.Lock()

    def due(self, requester: Requester, ip: str | None, now_ms: int) -> bool:
        """Whether this request should be written; claims the slot so concurrent requests do not all write."""
        key = (requester.user_id, requester.device_id)
        with self._lock:
            previous = self._written.get(key)
            if previous is not None and previous[1] == ip and now_ms - previous[0] < INTERVAL_MS:
                return False
            self._written[key] = (now_ms, ip)
            if len(self._written) > 100_000:
                self._written.clear()
            return True
