"""What the ``/sync`` long-polls woken by one ring share: reads that do not depend on who is syncing.

One message in a room whose members all long-poll wakes every one of them, and each woken sync used to repeat the
same reads: the writers' positions, which rooms moved in the range, the room's latest events in it, the events
themselves and their state groups. Those depend on the range, not on the reader, so a process computes each once
per ring and hands the answer to every sync woken by it; what stays per reader is membership, filtering,
visibility, unread counts and the device's own data.

**Generations.** Every ring this process hears (any stream, and ``RESYNC``) starts a new :class:`Snapshot`. A sync
woken by a ring takes the snapshot current when it wakes, which is younger than that ring and so younger than the
commit the ring announced: the positions read in it cover that commit. Only woken syncs share (a request's first
look reads fresh), so a request still sees at least what committed before it arrived, and a sync whose token is
ahead of the snapshot's positions (it came from another process that heard a ring first) reads fresh too. A
snapshot also ends after :data:`MAX_AGE_S`, so a lost ring cannot keep one alive. Reads bounded by the positions
are the same whichever transaction makes them, and events are immutable, so sharing never changes an answer; it
only makes a woken sync's view as old as the moment the first of them looked, at most.

**Once, not N times.** Woken syncs run together (greenlets or threads), so the first to need a value computes it
and the others wait for it (:meth:`Snapshot.once`) instead of each missing the cache at the same moment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from persistence.doorbell import Ring

T = TypeVar("T")

MAX_AGE_S = 1.0
"""The longest a snapshot is shared without a ring: bounds how stale a lost ring can leave a woken sync's view."""
MAX_ENTRIES = 50_000
"""Values one snapshot keeps at most; past that it computes without keeping (bounded memory under any load)."""


class _Pending:
    """A value one sync is computing that others wait for."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.failed = False


class Snapshot:
    """The values computed since one ring; shared by the syncs that ring (or a later one in its window) woke."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._values: dict[Hashable, _Pending] = {}

    def once(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``'s value for ``key`` in this snapshot: computed by the first caller, waited for by the
        others (who compute it themselves if the first one failed)."""
        with self._lock:
            pending = self._values.get(key)
            owner = pending is None and len(self._values) < MAX_ENTRIES
            if owner:
                pending = self._values[key] = _Pending()
        if pending is None:
            return compute()
        if not owner:
            pending.done.wait()
            if pending.failed:
                return compute()
            return pending.value  # type: ignore[no-any-return]
        try:
            pending.value = compute()
        except BaseException:
            pending.failed = True
            with self._lock:
                self._values.pop(key, None)
            raise
        finally:
            pending.done.set()
        return pending.value  # type: ignore[no-any-return]

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)


class SharedReads:
    """This process's current :class:`Snapshot`, replaced at every ring (a doorbell listener)."""

    def __init__(self, max_age_s: float = MAX_AGE_S) -> None:
        self._lock = threading.Lock()
        self._max_age_s = max_age_s
        self._current: Snapshot | None = None

    def on_ring(self, ring: Ring) -> None:
        with self._lock:
            self._current = None

    def snapshot(self) -> Snapshot:
        """The snapshot a sync woken now shares (a new one after a ring, or once the current one is too old)."""
        with self._lock:
            current = self._current
            if current is None or time.monotonic() - current.started > self._max_age_s:
                current = self._current = Snapshot()
            return current
