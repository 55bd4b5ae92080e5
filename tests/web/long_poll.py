"""A long-polling request in its own thread, for tests proving that a waiting request wakes when something
relevant lands (and not by its timeout)."""

from __future__ import annotations

import threading
import time
from typing import Any

from tests.homeserver import HomeserverUnderTest

SETTLE_SECONDS = 0.5
"""How long the request is given to reach its wait before the test acts."""


class LongPoll:
    def __init__(self, server: HomeserverUnderTest, token: str, url: str, *, method: str = "GET",
                 json: dict[str, Any] | None = None) -> None:
        self._answer: dict[str, Any] = {}
        client = server.app.test_client()

        def run() -> None:
            started = time.monotonic()
            self._answer["body"] = client.open(url, method=method, json=json,
                                               headers={"Authorization": f"Bearer {token}"}).json
            self._answer["seconds"] = time.monotonic() - started

        self._thread = threading.Thread(target=run)
        self._thread.start()
        time.sleep(SETTLE_SECONDS)

    @property
    def waiting(self) -> bool:
        return self._thread.is_alive()

    def answer(self, timeout: float = 15.0) -> dict[str, Any]:
        """``{"body", "seconds"}`` once the request returned; fails if it is still waiting after ``timeout``."""
        self._thread.join(timeout=timeout)
        assert not self._thread.is_alive(), "the long-poll did not wake"
        return self._answer
