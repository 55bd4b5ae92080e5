"""A push gateway written to the Push Gateway API (``POST /_matrix/push/v1/notify``), for tests, since Sygnal does
not install here: a real HTTP server on 127.0.0.1.

It checks each request against the spec's ``Notification`` schema (``devices`` required, each with ``app_id`` and
``pushkey``; the optional fields with their types; ``data`` without ``url``; ``room_id`` with an ``event_id``) and
answers a malformed one 400, remembering it: leaving :func:`running_push_gateway` fails the test if any request
was malformed, so every test that pushes also checks the homeserver's requests. A well-formed one is answered
``200 {"rejected": [...]}`` (``rejected`` is required, possibly empty) with the pushkeys it is told to reject, or
500 while it is told to fail.

The spec has the gateway suppress duplicates by ``event_id`` ("to avoid retries of this HTTP API causing
duplicate alerts"): :meth:`PushGateway.alerts` is what a user would see, one per (pushkey, event), while
:meth:`PushGateway.events` is every request about an event, retries included.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NOTIFY_PATH = "/_matrix/push/v1/notify"
STRING_FIELDS = ("event_id", "room_id", "type", "sender", "sender_display_name", "room_name", "room_alias")
HOLD_SECONDS = 120.0
"""How long a held answer waits for its release (the test kills the pusher meanwhile)."""


def malformation(body: Any) -> str | None:
    """Why ``body`` is not a Push Gateway API ``notify`` request, or None when it is one."""
    notification = body.get("notification") if isinstance(body, dict) else None
    if not isinstance(notification, dict):
        return "notification: required object"
    for key in STRING_FIELDS:
        if key in notification and not isinstance(notification[key], str):
            return f"notification.{key}: not a string"
    if "event_id" in notification and "room_id" not in notification:
        return "notification.room_id: required with event_id"
    if "user_is_target" in notification and not isinstance(notification["user_is_target"], bool):
        return "notification.user_is_target: not a boolean"
    if notification.get("prio", "high") not in ("high", "low"):
        return "notification.prio: not high or low"
    if "content" in notification and not isinstance(notification["content"], dict):
        return "notification.content: not an object"
    counts = notification.get("counts", {})
    if not isinstance(counts, dict) or any(type(counts.get(key, 0)) is not int for key in ("unread", "missed_calls")):
        return "notification.counts: not an object of integers"
    devices = notification.get("devices")
    if not isinstance(devices, list) or not devices:
        return "notification.devices: required non-empty array"
    for device in devices:
        if not isinstance(device, dict) or not all(isinstance(device.get(k), str) for k in ("app_id", "pushkey")):
            return "notification.devices[]: app_id and pushkey are required strings"
        if "pushkey_ts" in device and type(device["pushkey_ts"]) is not int:
            return "notification.devices[].pushkey_ts: not an integer"
        data, tweaks = device.get("data", {}), device.get("tweaks", {})
        if not isinstance(data, dict) or "url" in data:
            return "notification.devices[].data: an object without url"
        if not isinstance(tweaks, dict):
            return "notification.devices[].tweaks: not an object"
    return None


class PushGateway:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self._server = server
        self._lock = threading.Lock()
        self.notifications: list[dict[str, Any]] = []
        self.malformed: list[str] = []
        self.rejected: set[str] = set()
        self.failing = False
        self._hold_at: int | None = None
        self.holding = threading.Event()
        """Set once the held notification has been recorded and its answer is waiting."""
        self.release = threading.Event()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{NOTIFY_PATH}"

    def hold_answer_to(self, count: int) -> None:
        """Record the ``count``-th notification about an event, then keep its answer back until :attr:`release`
        is set: the pusher has handed it over and not heard back, the window a crash test kills it in."""
        with self._lock:
            self._hold_at = count

    def take(self, body: Any) -> tuple[int, dict[str, Any]]:
        problem = malformation(body)
        with self._lock:
            if problem is not None:
                self.malformed.append(problem)
                return 400, {"errcode": "M_BAD_JSON", "error": problem}
            if self.failing:
                return 500, {"error": "gateway down"}
            notification = body["notification"]
            self.notifications.append(notification)
            hold = self._hold_at is not None and notification.get("event_id") and len(self._events()) == self._hold_at
            keys = [device["pushkey"] for device in notification["devices"]]
            answer = {"rejected": [key for key in keys if key in self.rejected]}
        if hold:
            self.holding.set()
            self.release.wait(HOLD_SECONDS)
        return 200, answer

    def _events(self) -> list[dict[str, Any]]:
        return [n for n in self.notifications if n.get("event_id")]

    def events(self) -> list[dict[str, Any]]:
        """Requests about an event (not badge-only updates), retries included, in the order received."""
        with self._lock:
            return self._events()

    def alerts(self) -> list[tuple[str, str]]:
        """``(pushkey, event_id)`` in the order first received: what the gateway alerts once it suppresses
        duplicates by ``event_id``, as the spec has it."""
        seen: dict[tuple[str, str], None] = {}
        for notification in self.events():
            for device in notification["devices"]:
                seen.setdefault((device["pushkey"], notification["event_id"]), None)
        return list(seen)

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
            try:
                body = json.loads(self.rfile.read(length) or b"null")
            except ValueError:
                body = None
            if self.path != NOTIFY_PATH:
                status, answer = 404, {"errcode": "M_UNRECOGNIZED", "error": "not the notify endpoint"}
            elif not self.headers.get("Content-Type", "").startswith("application/json"):
                gateway_of[0].malformed.append("Content-Type: not application/json")
                status, answer = 400, {"errcode": "M_NOT_JSON", "error": "not JSON"}
            else:
                status, answer = gateway_of[0].take(body)
            encoded = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)
            except OSError:
                return  # the pusher went away while its answer was held (a crash test killed it)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def running_push_gateway() -> Iterator[PushGateway]:
    """A gateway on a free loopback port; fails the test on leaving if any request it took was malformed."""
    holder: list[PushGateway] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(holder))
    gateway = PushGateway(server)
    holder.append(gateway)
    thread = threading.Thread(target=server.serve_forever, name="push-gateway", daemon=True)
    thread.start()
    try:
        yield gateway
    finally:
        gateway.release.set()
        server.shutdown()
        server.server_close()
    assert not gateway.malformed, f"malformed Push Gateway API requests: {gateway.malformed}"
