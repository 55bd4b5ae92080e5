"""A TaskContext for running task bodies directly, on a real database, without a worker."""

from __future__ import annotations

import threading
from typing import Any

from config import parse_config
from persistence.database import Database
from persistence.doorbell import Doorbell, LocalDoorbell
from persistence.stores import Stores
from protocol.signing import generate_signing_key
from tasks.context import TaskContext
from tests.clock import FakeClock


class RecordingDispatcher:
    """Records pokes; a task never waits on another task, so ``call`` is a test failure."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.event = threading.Event()

    def send(self, name: str, **kwargs: Any) -> None:
        self.sent.append((name, kwargs))
        self.event.set()

    def call(self, name: str, *, timeout: float, **kwargs: Any) -> Any:
        raise AssertionError("a task never waits on a task")


def make_context(database: Database, *, clock: FakeClock | None = None, dispatcher: Any = None,
                 doorbell: Doorbell | None = None, **config: Any) -> TaskContext:
    return TaskContext(
        parse_config({"server_name": "test.local", "ip_range_whitelist": ["127.0.0.1/32"], **config}), database,
        Stores(), doorbell or LocalDoorbell(),
        clock or FakeClock(), dispatcher or RecordingDispatcher(), generate_signing_key("test"),
    )
