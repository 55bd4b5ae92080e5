"""A remote homeserver's ``/send`` endpoint, for tests: a real HTTP server on 127.0.0.1 that records every
transaction it is sent (id, body, Authorization header), deduplicating by transaction id as a real server must,
and that can be told to fail (500), refuse (400), or hold requests until released (a slow or hung server)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

SEND_PREFIX = "/_matrix/federation/v1/send/"


@dataclass(frozen=True)
class Received:
    txn_id: str
    body: dict[str, Any]
    authorization: str | None

    @property
    def bodies(self) -> list[str]:
        """The ``body`` of each message PDU, in the order sent."""
        return [pdu["content"]["body"] for pdu in self.body["pdus"] if pdu["type"] == "m.room.message"]

    def edus(self, edu_type: str) -> list[dict[str, Any]]:
        return [edu["content"] for edu in self.body["edus"] if edu["edu_type"] == edu_type]


class RemoteServer:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self._server = server
        self._lock = threading.Lock()
        self.received: list[Received] = []
        """Every request, repeats of a transaction id included, in arrival order."""
        self.status = 200
        self.release = threading.Event()
        self.release.set()
        self.arrived = threading.Event()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def transactions(self) -> dict[str, dict[str, Any]]:
        """Each transaction id with the body it came with (the first, as a server deduplicating by id keeps it)."""
        with self._lock:
            found: dict[str, dict[str, Any]] = {}
            for item in self.received:
                found.setdefault(item.txn_id, item.body)
            return found

    def take(self, txn_id: str, body: dict[str, Any], authorization: str | None) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.received.append(Received(txn_id, body, authorization))
        self.arrived.set()
        self.release.wait(30)
        if self.status != 200:
            return self.status, {"errcode": "M_UNKNOWN", "error": "told to fail"}
        return 200, {"pdus": {pdu.get("event_id", ""): {} for pdu in body.get("pdus", [])}}


@contextmanager
def running_remote_server() -> Iterator[RemoteServer]:
    holder: list[RemoteServer] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if not self.path.startswith(SEND_PREFIX):
                status, answer = 404, {"errcode": "M_UNRECOGNIZED", "error": "not here"}
            else:
                txn_id = unquote(self.path[len(SEND_PREFIX):])
                status, answer = holder[0].take(txn_id, body, self.headers.get("Authorization"))
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    holder.append(RemoteServer(server))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        holder[0].release.set()
        server.shutdown()
        server.server_close()
