"""``outbound_federation_restricted_to``: a process outside the list signs its requests but a federation sender
makes the HTTP exchange, with the sender's own address checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from config import parse_config
from federation_client.client import FederationClient
from federation_client.discovery import ServerDiscovery
from federation_client.errors import DestinationNotAllowed
from persistence.database import Database
from protocol.federation.request_auth import parse_authorization
from protocol.signing import generate_signing_key
from tasks.context import TaskContext
from tasks.envelope import Stamp, unwrap
from tasks.federation.forwarding import FORWARD_REQUEST, ForwardingTransport
from tasks.ledger import run_body
from tasks.registry import catalogue
from tests.clock import FakeClock
from tests.federation_remote import RemoteServer, running_remote_server
from tests.tasks.federation_fixtures import federation_context


class SenderQueue:
    """The federation sender's queue, run in place: records what was forwarded."""

    def __init__(self, sender: TaskContext) -> None:
        self.sender = sender
        self.called: list[str] = []

    def send(self, name: str, **kwargs: Any) -> None:
        raise AssertionError("forwarding waits for its answer")

    def call(self, name: str, *, timeout: float, **kwargs: Any) -> Any:
        self.called.append(name)
        return unwrap(run_body(catalogue()[name], self.sender, kwargs, Stamp.new()))

    def shard_of(self, family: str, key: str) -> str:
        return "sender1"


@pytest.fixture
def remote() -> Iterator[RemoteServer]:
    with running_remote_server() as server:
        yield server


def _restricted_client(queue: SenderQueue, hosts: dict[str, str]) -> FederationClient:
    """A web process's client: it has the config and key, but its HTTP goes through the queue."""
    config = parse_config({"server_name": "test.local", "federation_test_hosts": hosts}).federation
    transport = ForwardingTransport(queue, timeout_s=5)
    return FederationClient("test.local", generate_signing_key("web"), config, transport,
                            ServerDiscovery(config, transport, FakeClock()))


def test_a_forwarded_request_is_signed_here_and_sent_by_the_sender(database: Database,
                                                                   remote: RemoteServer) -> None:
    hosts = {"remote.test": remote.base_url}
    queue = SenderQueue(federation_context(database, hosts))
    answer = _restricted_client(queue, hosts).put_json("remote.test", "/_matrix/federation/v1/send/t1",
                                                       {"origin": "test.local", "pdus": [], "edus": []})
    assert answer == {"pdus": {}}
    assert queue.called == [FORWARD_REQUEST]
    [received] = remote.received
    assert received.txn_id == "t1"
    assert parse_authorization(received.authorization or "").key_id == "ed25519:web"


def test_the_senders_address_checks_apply_to_forwarded_requests(database: Database, remote: RemoteServer) -> None:
    hosts = {"remote.test": f"http://localhost:{remote.port}"}
    queue = SenderQueue(federation_context(database, hosts, ip_range_whitelist=[]))  # loopback blocked there
    with pytest.raises(DestinationNotAllowed):
        _restricted_client(queue, hosts).get_json("remote.test", "/_matrix/federation/v1/version")
    assert remote.received == []
