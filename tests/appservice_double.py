"""An application service written to the Application Service API, for tests: a real HTTP server on 127.0.0.1
that checks the homeserver's ``hs_token``, records each transaction (deduplicating by transaction id, as the
spec asks an appservice to), answers user and alias queries and pings, and fails with a 500 while told to.

Registration files for it come from :func:`registration`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

HS_TOKEN = "hs-token-of-the-bridge"
AS_TOKEN = "as-token-of-the-bridge"


class AppServiceDouble:
    def __init__(self, server: ThreadingHTTPServer, hs_token: str) -> None:
        self._server = server
        self._lock = threading.Lock()
        self.hs_token = hs_token
        self.transactions: dict[str, list[dict[str, Any]]] = {}
        """Transaction id -> its events, in the order first received."""
        self.bodies: dict[str, dict[str, Any]] = {}
        """Transaction id -> the whole body first received under it."""
        self.ephemeral: list[dict[str, Any]] = []
        self.to_device: list[dict[str, Any]] = []
        self.received: list[str] = []
        """Every transaction id as it arrived (a retry appears twice)."""
        self.requests: list[tuple[str, str]] = []
        self.failing = False
        self.on_user_query: Callable[[str], bool] = lambda user_id: False
        self.on_alias_query: Callable[[str], bool] = lambda alias: False
        self.thirdparty: dict[str, Any] = {}

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [event for events in self.transactions.values() for event in events]

    def wait_for_events(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.events()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"appservice got {len(self.events())} events, expected {count}")
            time.sleep(0.05)
        return self.events()

    def handle(self, method: str, path: str, query: str, token: str | None, body: Any) -> tuple[int, Any]:
        with self._lock:
            self.requests.append((method, unquote(path)))
        if token != self.hs_token:
            return 403, {"errcode": "M_FORBIDDEN", "error": "bad hs_token"}
        if path.startswith("/_matrix/app/v1/transactions/") and method == "PUT":
            txn_id = path.rsplit("/", 1)[1]
            with self._lock:
                if self.failing:
                    return 500, {"error": "appservice down"}
                self.received.append(txn_id)
                if txn_id not in self.transactions:
                    self.transactions[txn_id] = list(body.get("events", []))
                    self.bodies[txn_id] = body
                    self.ephemeral.extend(body.get("ephemeral", body.get("de.sorunome.msc2409.ephemeral", [])))
                    self.to_device.extend(body.get("de.sorunome.msc2409.to_device", []))
            return 200, {}
        if path.startswith("/_matrix/app/v1/users/"):
            found = self.on_user_query(unquote(path.rsplit("/", 1)[1]))
            return (200, {}) if found else (404, {"errcode": "M_NOT_FOUND"})
        if path.startswith("/_matrix/app/v1/rooms/"):
            found = self.on_alias_query(unquote(path.rsplit("/", 1)[1]))
            return (200, {}) if found else (404, {"errcode": "M_NOT_FOUND"})
        if path == "/_matrix/app/v1/ping" and method == "POST":
            return (500, {"error": "down"}) if self.failing else (200, {})
        if path.startswith("/_matrix/app/v1/thirdparty/"):
            key = path[len("/_matrix/app/v1/thirdparty/"):] + (f"?{query}" if query else "")
            if key in self.thirdparty:
                return 200, self.thirdparty[key]
            return 404, {"errcode": "M_NOT_FOUND"}
        return 404, {"errcode": "M_UNRECOGNIZED"}


def _handler(double_of: list[AppServiceDouble]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else {}
            header = self.headers.get("Authorization", "")
            token = header[len("Bearer "):] if header.startswith("Bearer ") else None
            parts = urlsplit(self.path)
            status, answer = double_of[0].handle(method, parts.path, parts.query, token, body)
            encoded = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(encoded)))
            self.end_headers()
            self.wfile.write(encoded)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_PUT(self) -> None:
            self._serve("PUT")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def running_appservice(hs_token: str = HS_TOKEN) -> Iterator[AppServiceDouble]:
    holder: list[AppServiceDouble] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(holder))
    double = AppServiceDouble(server, hs_token)
    holder.append(double)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield double
    finally:
        server.shutdown()
        server.server_close()


def registration(directory: Path, *, url: str | None, name: str = "bridge", as_token: str = AS_TOKEN,
                 hs_token: str = HS_TOKEN, server_name: str = "test.local", **extra: Any) -> str:
    """Write a registration file claiming ``@{name}_*`` and ``#{name}_*`` exclusively; answers its path."""
    data = {"id": name, "url": url, "as_token": as_token, "hs_token": hs_token, "sender_localpart": f"{name}bot",
            "rate_limited": False,
            "namespaces": {"users": [{"regex": f"@{name}_.*:{server_name}", "exclusive": True}],
                           "aliases": [{"regex": f"#{name}_.*:{server_name}", "exclusive": True}],
                           "rooms": []},
            **extra}
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)
