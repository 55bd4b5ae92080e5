"""A round-robin TCP load balancer on loopback, standing in front of a deployment's web processes the way nginx's
stream module or haproxy in TCP mode would: each new client connection goes to the next web process in turn.

It balances connections, not requests: a keep-alive connection stays with the web process it reached, as behind a
real TCP balancer, while a client's concurrent requests (a long-poll beside a send) open connections of their own and
so can land on different processes. Tests that use several clients therefore reach every web process.
"""

from __future__ import annotations

import itertools
import selectors
import socket
import socketserver
import threading
from collections.abc import Sequence

CHUNK = 65536


class _Relay(socketserver.BaseRequestHandler):
    """Copies bytes both ways between the client and one backend until both sides have finished sending."""

    server: RoundRobinBalancer

    def handle(self) -> None:
        client: socket.socket = self.request
        try:
            backend = socket.create_connection(self.server.next_backend(), timeout=5)
        except OSError:
            return  # the backend is down (a restart in progress): the client sees the connection close
        with backend, selectors.DefaultSelector() as selector:
            backend.settimeout(None)
            peer = {client: backend, backend: client}
            for side in peer:
                selector.register(side, selectors.EVENT_READ)
            sending = 2
            try:
                while sending:
                    for key, _ in selector.select():
                        source: socket.socket = key.fileobj  # type: ignore[assignment]
                        data = source.recv(CHUNK)
                        if data:
                            peer[source].sendall(data)
                        else:  # this side finished sending: pass the half-close on, keep relaying the other way
                            selector.unregister(source)
                            peer[source].shutdown(socket.SHUT_WR)
                            sending -= 1
            except OSError:
                pass  # a reset on either side ends the relay; closing both sockets tells the other side


class RoundRobinBalancer(socketserver.ThreadingTCPServer):
    """Listens on a free loopback port; ``close()`` stops accepting and returns once the accept loop has ended."""

    daemon_threads = True  # a relay still open (a long-poll) never holds up close()
    allow_reuse_address = True

    def __init__(self, host: str, backend_ports: Sequence[int]) -> None:
        super().__init__((host, 0), _Relay)
        self._backends = itertools.cycle([(host, port) for port in backend_ports])
        self._turn = threading.Lock()
        self._serving = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1},
                                         name="round-robin-balancer", daemon=True)
        self._serving.start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def next_backend(self) -> tuple[str, int]:
        with self._turn:  # relays connect from their own threads
            return next(self._backends)

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self._serving.join(timeout=5)
