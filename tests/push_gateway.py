"""A push gateway written to the Push Gateway API (``POST /_matrix/push/v1/notify``), for tests: a real HTTP
server on 127.0.0.1 that records each notification it takes and answers ``{"rejected": [...]}`` for the pushkeys
it is told to reject, or fails with a 500 while told to."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NOTIFY_PATH = "/_matrix/push/v1/notify"


class PushGateway:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self._server = server
        self._lock = threading.Lock()
        self.notifications: list[dict[str, Any]] = []
        self.rejected: set[str] = set()
        self.failing = False

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{NOTIFY_PATH}"

    def take(self, notification: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if self.failing:
                return 500, {"error": "gateway down"}
            self.notifications.append(notification)
            keys = [device.get("pushkey") for device in notification.get("devices", [])]
            return 200, {"rejected": [key for key in keys if key in self.rejected]}

    def events(self) -> list[dict[str, Any]]:
        """Notifications about an event (not badge-only updates), in the order received."""
        with self._lock:
            return [n for n in self.notifications if n.get("event_id")]

    def wait_for_events(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.events()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"gateway got {len(self.events())} notifications, expected {count}")
            time.sleep(0.05)
        return self.events()


def _handler(gateway_of: list[PushGateway]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path != NOTIFY_PATH or not isinstance(body.get("notification"), dict):
                status, answer = 400, {"error": "not a push notification"}
            else:
                status, answer = gateway_of[0].take(body["notification"])
            encoded = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(encoded)))
            self.end_headers()
            self.wfile.write(encoded)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def running_push_gateway() -> Iterator[PushGateway]:
    holder: list[PushGateway] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(holder))
    gateway = PushGateway(server)
    holder.append(gateway)
    thread = threading.Thread(target=server.serve_forever, name="push-gateway", daemon=True)
    thread.start()
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()
