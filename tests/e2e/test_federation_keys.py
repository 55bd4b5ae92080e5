"""Three real monoliths on loopback learn each other's keys and authenticate each other's requests.

``hs-a.test`` reaches ``hs-b.test`` but not ``hs-c.test`` (mapped to a closed port); ``hs-b.test`` reaches both
and is ``hs-a.test``'s trusted notary. Requests are sent by this test process with our own outbound federation
client, signed with the sending server's key file, so A must fetch B's key directly and C's key through B.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from config import parse_config
from federation_client.client import FederationClient
from federation_client.discovery import ServerDiscovery
from federation_client.errors import RemoteError
from federation_client.transport import Transport
from persistence.signing_key import load_signing_key
from protocol.clock import SystemClock
from protocol.federation.server_keys import parse_key_response
from protocol.signing import generate_signing_key, verify_json, verify_key_of
from tests.e2e.servers import HOST, RunningServer, free_port, start_monolith

pytestmark = pytest.mark.e2e

NAMES = ("hs-a.test", "hs-b.test", "hs-c.test")
LOOPBACK = {"ip_range_whitelist": ["127.0.0.0/8"]}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningServer]]:
    ports = {name: free_port() for name in NAMES}
    url = {name: f"http://{HOST}:{port}" for name, port in ports.items()}
    hosts = {
        "hs-a.test": {"hs-b.test": url["hs-b.test"], "hs-c.test": f"http://{HOST}:9"},
        "hs-b.test": {"hs-a.test": url["hs-a.test"], "hs-c.test": url["hs-c.test"]},
        "hs-c.test": {"hs-a.test": url["hs-a.test"], "hs-b.test": url["hs-b.test"]},
    }
    notaries = {"hs-a.test": [{"server_name": "hs-b.test"}]}
    started: dict[str, RunningServer] = {}
    try:
        for name in NAMES:
            started[name] = start_monolith(tmp_path_factory.mktemp(name), port=ports[name], server_name=name,
                                           federation_test_hosts=hosts[name],
                                           trusted_key_servers=notaries.get(name, []), **LOOPBACK)
        yield started
    finally:
        for server in started.values():
            server.stop()


def client_of(sender: RunningServer, servers: dict[str, RunningServer], key: Any = None) -> FederationClient:
    """Our outbound client acting as ``sender``: its name and signing key, reaching every server directly."""
    data = sender.config()
    config = parse_config({"server_name": data["server_name"], **LOOPBACK, "federation_test_hosts": {
        name: server.base_url for name, server in servers.items()}}).federation
    transport = Transport(config)
    signing_key = key or load_signing_key(data["signing_key_path"])
    return FederationClient(data["server_name"], signing_key, config, transport,
                            ServerDiscovery(config, transport, SystemClock()))


@pytest.fixture(scope="module")
def alice(servers: dict[str, RunningServer]) -> str:
    base = servers["hs-a.test"].base_url
    registered = httpx.post(f"{base}/_matrix/client/v3/register", json={
        "username": "alice", "password": "a long enough password", "auth": {"type": "m.login.dummy"}}).json()
    httpx.put(f"{base}/_matrix/client/v3/profile/@alice:hs-a.test/displayname", json={"displayname": "Alice"},
              headers={"Authorization": f"Bearer {registered['access_token']}"}).raise_for_status()
    return "@alice:hs-a.test"


def query_profile(client: FederationClient, user_id: str) -> Any:
    return client.get_json("hs-a.test", "/_matrix/federation/v1/query/profile", {"user_id": user_id})


def test_a_server_authenticates_a_request_with_a_key_it_fetched_directly(servers: dict[str, RunningServer],
                                                                          alice: str) -> None:
    assert query_profile(client_of(servers["hs-b.test"], servers), alice) == {"displayname": "Alice"}


def test_a_server_authenticates_a_request_with_a_key_it_got_through_its_notary(servers: dict[str, RunningServer],
                                                                                alice: str) -> None:
    assert query_profile(client_of(servers["hs-c.test"], servers), alice) == {"displayname": "Alice"}
    # A now holds C's key as relayed by B, and hands it on as a notary itself, with C's and its own signature.
    client = client_of(servers["hs-b.test"], servers)
    [item] = client.get_json("hs-a.test", "/_matrix/key/v2/query/hs-c.test", signed=False)["server_keys"]
    c_keys = parse_key_response(client.get_json("hs-c.test", "/_matrix/key/v2/server", signed=False),
                                "hs-c.test", 0)
    verify_json(item, "hs-c.test", c_keys.keys[0].verify_key)
    as_c = client_of(servers["hs-c.test"], servers)
    a_keys = as_c.get_json("hs-b.test", "/_matrix/key/v2/query/hs-a.test", signed=False)["server_keys"]
    a_key = parse_key_response(a_keys[0], "hs-a.test", 0).keys[0]
    verify_json(item, "hs-a.test", a_key.verify_key)
    b_key = verify_key_of(load_signing_key(servers["hs-b.test"].config()["signing_key_path"]))
    verify_json(a_keys[0], "hs-b.test", b_key)


def test_a_forged_request_is_refused(servers: dict[str, RunningServer], alice: str) -> None:
    forger = client_of(servers["hs-b.test"], servers, key=generate_signing_key("forged"))
    with pytest.raises(RemoteError) as refused:
        query_profile(forger, alice)
    assert (refused.value.status, refused.value.body["errcode"]) == (401, "M_UNAUTHORIZED")


def test_version_answers_without_authentication(servers: dict[str, RunningServer]) -> None:
    answer = client_of(servers["hs-b.test"], servers).get_json("hs-a.test", "/_matrix/federation/v1/version",
                                                              signed=False)
    assert answer["server"]["name"] == "Ganglion"
