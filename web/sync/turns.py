"""Turns for woken long-polls, so one ring that wakes a thousand ``/sync``s does not stall every other request.

Under gevent (web processes, ``ganglion/cooperative.py``) a ring sets every waiter's event at once, and the hub
then switches into each woken greenlet in one go: each rebuilds its sync (milliseconds of CPU; SQLite never
yields) before the hub polls sockets again. A request arriving meanwhile waited for the whole wake, up to seconds at
N = 1,000 (issue 19), and later ones still waited a few hundred ms (gevent polls sockets only every 50 callbacks).

So a woken sync rebuilds only in its turn: at most :data:`AT_ONCE` at a time, strictly in the order they were woken
(the ring wakes the sender's own long-polls first, and turns keep that order), and each turn first lets the hub go
round once, so what else is ready runs in between (:func:`let_others_run`). A request that is not a woken sync
never takes a turn; it waits at most for the turns already running. Turns change when a sync answers, never what
it answers: the sync reads the database in its turn, as it would have read it without one.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

AT_ONCE = 4
"""Woken syncs rebuilding at one time in a process: more than one, so a sync waiting on PostgreSQL overlaps another
one's CPU; few, so a new request waits for at most a few rebuilds (each ~3-5 ms of CPU)."""


YIELD_S = 0.0001
"""How long a turn sleeps before it rebuilds under gevent: any positive time is a timer, which fires only after the
hub's next look at the sockets (``gevent.sleep(0)`` would not wait for one)."""


def let_others_run() -> None:
    """Give way to whatever else in the process is ready: under gevent, let the hub go round its loop once, so
    connections that arrived meanwhile are accepted and ready requests run before this rebuild (not until the hub
    is idle: ``gevent.idle()`` starved the wake while other requests kept arriving); with OS threads, yield the
    GIL."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        import gevent

        gevent.sleep(YIELD_S)
    else:
        time.sleep(0)


class WokenTurns:
    """A first-come, first-served gate of ``at_once`` places: a place is handed straight to the longest waiter."""

    def __init__(self, at_once: int = AT_ONCE) -> None:
        self._lock = threading.Lock()
        self._free = at_once
        self._queue: deque[threading.Event] = deque()

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._lock:
            ticket: threading.Event | None = None
            if self._free and not self._queue:
                self._free -= 1
            else:
                ticket = threading.Event()
                self._queue.append(ticket)
        if ticket is not None:
            try:
                ticket.wait()
            except BaseException:  # the request ended while it waited (client gone): leave the queue
                with self._lock:
                    owns_place = ticket.is_set()
                    if not owns_place:
                        self._queue.remove(ticket)
                if owns_place:
                    self._hand_over()
                raise
        try:
            let_others_run()
            yield
        finally:
            self._hand_over()

    def _hand_over(self) -> None:
        with self._lock:
            if self._queue:
                self._queue.popleft().set()
            else:
                self._free += 1

    def count_waiting(self) -> int:
        with self._lock:
            return len(self._queue)
