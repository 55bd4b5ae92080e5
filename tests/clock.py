"""A clock tests move by hand, instead of sleeping."""

from __future__ import annotations

import time


class FakeClock:
    def __init__(self, start_ms: int | None = None) -> None:
        self._now = start_ms if start_ms is not None else int(time.time() * 1000)

    def now_ms(self) -> int:
        return self._now

    def advance(self, ms: int) -> None:
        self._now += ms
