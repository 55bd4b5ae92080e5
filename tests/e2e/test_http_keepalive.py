"""A pooled HTTP/1.1 connection stays usable for as long as clients keep idle connections in their pools.

Clients reuse an idle keep-alive connection for their next request until their own idle timeout (Node's fetch,
and so matrix-js-sdk: 4 s; aiohttp, and so matrix-nio: 15 s; an nginx upstream pool: 60 s). A server that closes
idle connections sooner races them (RFC 9112 section 9.8: the client may start a request just as the server closes
the "idle" connection), and such a request fails with "other side closed", as matrix-js-sdk's did against
gunicorn's default of 2 s. ``ganglion.cli.KEEPALIVE_SECONDS`` outwaits them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.client import HTTPConnection, RemoteDisconnected
from pathlib import Path

import pytest

from tests.e2e.servers import HOST, RunningServer, start_server

pytestmark = pytest.mark.e2e

NODE_FETCH_IDLE_SECONDS = 4.0
VERSIONS = "/_matrix/client/versions"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server("monolith", Path(tmp_path_factory.mktemp("keepalive")))
    yield running
    running.stop()


def test_an_idle_connection_outlives_a_node_clients_pool_timeout(server: RunningServer) -> None:
    connection = HTTPConnection(HOST, server.port, timeout=10)
    try:
        connection.request("GET", VERSIONS)
        first = connection.getresponse()
        first.read()
        assert first.status == 200 and not first.will_close
        pooled = connection.sock
        time.sleep(NODE_FETCH_IDLE_SECONDS + 1)
        try:
            connection.request("GET", VERSIONS)
            second = connection.getresponse()
        except (RemoteDisconnected, ConnectionError) as error:
            pytest.fail(f"the server closed the idle connection: {error!r}")
        assert connection.sock is pooled, "the second request went over the same connection"
        assert second.status == 200
    finally:
        connection.close()
