"""Real HTTPS servers on loopback for the outbound client's tests, with certificates from a throwaway CA (trustme).

Each server answers fixed routes and records every request it got, so a test can also check that a blocked
request never arrived.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import trustme


@dataclass
class Route:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)


def json_route(value: object, status: int = 200) -> Route:
    return Route(status, json.dumps(value).encode(), {"Content-Type": "application/json"})


@dataclass
class RecordingServer:
    host: str
    port: int
    routes: dict[str, Route]
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(method, path, Host header) of every request received."""
    bodies: list[tuple[str | None, bytes]] = field(default_factory=list)
    """(Authorization header, body) of every request received, in the same order."""


@dataclass(frozen=True)
class LocalCa:
    ca: trustme.CA
    ca_file: Path


def make_ca(directory: Path) -> LocalCa:
    ca = trustme.CA()
    ca_file = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return LocalCa(ca, ca_file)


@contextmanager
def https_server(ca: LocalCa, names: list[str], routes: dict[str, Route], host: str = "127.0.0.1",
                 port: int = 0) -> Iterator[RecordingServer]:
    """An HTTPS server on ``host:port`` (0: any free port) with a certificate for ``names``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.ca.issue_cert(*names).configure_cert(context)
    record = RecordingServer(host, port, routes)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            record.requests.append((self.command, self.path, self.headers.get("Host")))
            length = int(self.headers.get("Content-Length") or 0)
            record.bodies.append((self.headers.get("Authorization"), self.rfile.read(length)))
            route = record.routes.get(self.path, Route(404, b'{"errcode": "M_UNRECOGNIZED"}'))
            self.send_response(route.status)
            for name, value in route.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    record.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield record
    finally:
        server.shutdown()
        server.server_close()
