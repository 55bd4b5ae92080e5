"""A real SMTP server for tests (aiosmtpd), listening on 127.0.0.1: what it receives, parsed."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class SmtpServer:
    port: int
    received: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    refusing: bool = False
    """Answer the message ``451`` (a temporary failure): it is not taken."""
    dropping: bool = False
    """Take the message, then drop the connection before answering: the client cannot know it was taken."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refusing:
            return "451 4.3.0 try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        if self.dropping:
            server.transport.abort()
        return "250 OK"

    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [message for _, _, message in self.received]

    def wait_for_messages(self, count: int, timeout: float = 15.0) -> list[EmailMessage]:
        """At least ``count`` messages, waiting for tasks that run in the background (the monolith's inline
        tasks, a Celery worker)."""
        deadline = time.monotonic() + timeout
        while len(self.messages()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the SMTP server got {len(self.messages())} messages, expected {count}")
            time.sleep(0.05)
        return self.messages()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(_free_port())
    controller = Controller(server, hostname="127.0.0.1", port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


def clear(server: SmtpServer) -> None:
    """Forget what the server received (a server shared by several tests)."""
    with server._lock:
        server.received.clear()


def shared_email_config(port: int) -> dict[str, Any]:
    """The ``email`` section of the worker-shape tests' shared Celery worker (tests/conftest.py), which a test
    sending email through it gives its own server too, so both processes agree. The worker stamps and judges
    by the real clock, so the delay is a second: a test waits that long, not ten minutes."""
    return {"enable_notifs": True, "smtp_host": "127.0.0.1", "smtp_port": port,
            "notif_from": "Ganglion <noreply@test.local>", "notif_delay": 1000}


def body_of(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    content: str = part.get_content()  # type: ignore[attr-defined]
    return content
