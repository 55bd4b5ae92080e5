"""The gunicorn worker of ``ganglion run`` and ``ganglion web`` under gevent: gunicorn's gevent worker, plus closing
idle keep-alive connections when it is told to stop.

Web processes keep idle HTTP/1.1 connections open for ``KEEPALIVE_SECONDS`` (75 s, ganglion/cli.py) so clients
never write a request on a connection the server is closing. gunicorn's gevent worker, stopping gracefully, waits
until every connection's greenlet has ended, and an idle one ends only when its keep-alive expires: every stop
took the whole ``graceful_timeout``, longer than honcho (5 s) or a test harness waits before SIGKILL. Here a stop
shuts the read side of each connection that is waiting for its next request, so its greenlet ends at once;
requests in progress finish and are answered with ``Connection: close``, as gunicorn already does once a worker
stops.
"""

from __future__ import annotations

import _socket
import contextlib
import socket
from typing import Any

import gevent
from gunicorn.workers.ggevent import GeventWorker


class ClosingIdleGeventWorker(GeventWorker):  # type: ignore[misc]
    """``worker_class`` for gevent: the connections between requests are known, and closed on a stop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._idle: set[socket.socket] = set()

    def handle(self, listener: Any, client: socket.socket, addr: Any) -> None:
        self._idle.add(client)  # until its first request arrives
        try:
            super().handle(listener, client, addr)
        finally:
            self._idle.discard(client)

    def handle_request(self, listener_name: Any, req: Any, sock: socket.socket, addr: Any) -> Any:
        self._idle.discard(sock)
        try:
            return super().handle_request(listener_name, req, sock, addr)
        finally:
            if self.alive:
                self._idle.add(sock)

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        gevent.spawn(self._close_idle_connections)  # out of the signal handler, as gunicorn's handle_quit does

    def _close_idle_connections(self) -> None:
        """Shut the read side through a second, unpatched socket object on the same descriptor: the waiting
        greenlet then reads end-of-file and ends as for a client that hung up (gevent's own ``shutdown`` would
        instead cancel the wait with an error, which gunicorn logs as a traceback)."""
        for client in list(self._idle):
            with contextlib.suppress(OSError):  # the peer may have closed it already
                raw = _socket.socket(fileno=client.fileno())
                try:
                    raw.shutdown(socket.SHUT_RD)
                finally:
                    raw.detach()
