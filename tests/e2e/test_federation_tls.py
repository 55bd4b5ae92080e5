"""Servers that serve TLS themselves (``listeners`` with ``tls: true``) and federate over it, trusting a custom CA.

The server names are ``127.0.0.1:PORT``, found as the spec says for IP literals with a port (no test host map):
A fetches B's key over HTTPS, checking B's certificate against ``federation_custom_ca_list``, to authenticate a
request signed by B, and relays B's key as a notary. Without the CA, A cannot fetch B's key.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from config import parse_config
from federation_client.client import FederationClient
from federation_client.discovery import ServerDiscovery
from federation_client.errors import RemoteError
from federation_client.transport import Transport
from persistence.signing_key import load_signing_key
from protocol.clock import SystemClock
from tests.e2e.servers import HOST, RunningServer, ServerTls, free_port, start_server

pytestmark = pytest.mark.e2e
LOOPBACK = {"ip_range_whitelist": ["127.0.0.0/8"]}


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> ServerTls:
    directory = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    issued = ca.issue_cert(HOST)
    paths = directory / "cert.pem", directory / "key.pem", directory / "ca.pem"
    issued.cert_chain_pems[0].write_to_path(str(paths[0]))
    issued.private_key_pem.write_to_path(str(paths[1]))
    ca.cert_pem.write_to_path(str(paths[2]))
    return ServerTls(*paths)


def start_named(shape: str, directory: Path, tls: ServerTls, **overrides: object) -> RunningServer:
    port = free_port()
    return start_server(shape, directory, port=port, server_name=f"{HOST}:{port}", tls=tls, **LOOPBACK, **overrides)


@pytest.fixture(scope="module", params=["monolith", "workers"])
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         tls: ServerTls) -> Iterator[tuple[RunningServer, RunningServer]]:
    shape = str(request.param)
    a = start_named(shape, tmp_path_factory.mktemp("a"), tls, federation_custom_ca_list=[str(tls.ca)])
    try:
        b = start_named(shape, tmp_path_factory.mktemp("b"), tls)
        try:
            yield a, b
        finally:
            b.stop()
    finally:
        a.stop()


def sender(server: RunningServer, tls: ServerTls) -> FederationClient:
    data = server.config()
    config = parse_config({"server_name": data["server_name"], "federation_custom_ca_list": [str(tls.ca)],
                           **LOOPBACK}).federation
    transport = Transport(config)
    return FederationClient(data["server_name"], load_signing_key(data["signing_key_path"]), config, transport,
                            ServerDiscovery(config, transport, SystemClock()))


def test_a_tls_listener_serves_https_with_the_configured_certificate(pair: tuple[RunningServer, RunningServer],
                                                                     tls: ServerTls) -> None:
    a, _ = pair
    response = httpx.get(f"{a.base_url}/_matrix/key/v2/server", verify=tls.context())
    assert response.json()["server_name"] == a.config()["server_name"]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{a.base_url}/_matrix/key/v2/server")  # not trusted without the CA


def test_a_server_fetches_keys_over_tls_trusting_its_custom_ca(pair: tuple[RunningServer, RunningServer],
                                                               tls: ServerTls) -> None:
    a, b = pair
    a_name, b_name = a.config()["server_name"], b.config()["server_name"]
    as_b = sender(b, tls)
    with pytest.raises(RemoteError) as missing:
        as_b.get_json(a_name, "/_matrix/federation/v1/query/profile", {"user_id": f"@nobody:{a_name}"})
    # Only an authenticated request gets as far as looking the user up.
    assert (missing.value.status, missing.value.body["errcode"]) == (404, "M_NOT_FOUND")
    [relayed] = as_b.get_json(a_name, f"/_matrix/key/v2/query/{b_name}", signed=False)["server_keys"]
    assert set(relayed["signatures"]) == {a_name, b_name}


def test_a_server_without_the_ca_cannot_fetch_keys(pair: tuple[RunningServer, RunningServer],
                                                   tls: ServerTls) -> None:
    a, b = pair
    as_a = sender(a, tls)
    with pytest.raises(RemoteError) as refused:
        as_a.get_json(b.config()["server_name"], "/_matrix/federation/v1/query/profile",
                      {"user_id": f"@nobody:{b.config()['server_name']}"})
    assert (refused.value.status, refused.value.body["errcode"]) == (401, "M_UNAUTHORIZED")
