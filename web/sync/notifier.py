"""Waking ``/sync`` long-polls when the doorbell rings for something they listen to (DESIGN.md guarantee 5).

A waiting sync registers the keys it cares about (its user id and its rooms) *before* it looks at the database,
so a ring that lands between its look and its wait still wakes it. A ring carries keys (room ids, user ids);
:data:`RESYNC` wakes everyone, since rings may have been lost. A wake-up is only a hint: the sync re-reads, sharing
the reads that do not depend on who syncs with the other syncs the same ring woke (``web/sync/shared.py``), each in
its turn (``web/sync/turns.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from persistence.doorbell import RESYNC, Ring
from web.sync.shared import SharedReads
from web.sync.turns import WokenTurns


class Waiter:
    def __init__(self, keys: frozenset[str]) -> None:
        self.keys = keys
        self._woken = threading.Event()

    def wake(self) -> None:
        self._woken.set()

    def wait(self, timeout: float) -> bool:
        """Block until woken or ``timeout`` seconds pass; answers whether it was woken. Re-arms itself."""
        woken = self._woken.wait(timeout)
        self._woken.clear()
        return woken


class SyncNotifier:
    def __init__(self) -> None:
        self.shared = SharedReads()
        """What the syncs a ring wakes share (``web/sync/shared.py``): renewed by every ring before it wakes
        anyone, so no woken sync reads a snapshot older than the commit that woke it."""
        self.turns = WokenTurns()
        """Woken syncs rebuild in turns (``web/sync/turns.py``), so other requests are served during a wake."""
        self._lock = threading.Lock()
        self._by_key: dict[str, set[Waiter]] = {}
        self._all: set[Waiter] = set()

    @contextmanager
    def listening(self, keys: Iterable[str]) -> Iterator[Waiter]:
        waiter = Waiter(frozenset(keys))
        with self._lock:
            self._all.add(waiter)
            for key in waiter.keys:
                self._by_key.setdefault(key, set()).add(waiter)
        try:
            yield waiter
        finally:
            with self._lock:
                self._all.discard(waiter)
                for key in waiter.keys:
                    waiters = self._by_key.get(key)
                    if waiters is not None:
                        waiters.discard(waiter)
                        if not waiters:
                            del self._by_key[key]

    def on_ring(self, ring: Ring) -> None:
        self.shared.on_ring(ring)
        with self._lock:
            if ring.stream == RESYNC.stream:
                woken = list(self._all)
            else:
                # In the ring's key order, each once: its first keys are the senders of what it announces
                # (tasks/events.py ring_keys), so a sender's own long-polls are set running before the others.
                woken = list(dict.fromkeys(waiter for key in ring.keys for waiter in self._by_key.get(key, ())))
        for waiter in woken:
            waiter.wake()

    def count_waiting(self) -> int:
        with self._lock:
            return len(self._all)
