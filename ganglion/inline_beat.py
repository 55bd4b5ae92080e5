"""The monolith's beat: a daemon thread that sends the periodic tasks through the inline dispatcher."""

from __future__ import annotations

import logging
import threading
import time

from tasks.api import Dispatcher

logger = logging.getLogger(__name__)


class InlineBeat:
    def __init__(self, dispatcher: Dispatcher, schedule: dict[str, float]) -> None:
        self._dispatcher = dispatcher
        self._schedule = schedule
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="inline-beat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        due = {name: time.monotonic() + interval for name, interval in self._schedule.items()}
        while not self._stop.is_set():
            name = min(due, key=due.__getitem__)
            if self._stop.wait(max(0.0, due[name] - time.monotonic())):
                return
            self._dispatcher.send(name)
            due[name] = time.monotonic() + self._schedule[name]
