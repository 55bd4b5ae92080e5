"""End-to-end encryption across two real monoliths on loopback, with matrix-nio (vodozemac): the conversation of
tests/e2e/nio_conversation.py between a user of each server (the same conversation runs between Ganglion and
Synapse in test_federation_synapse.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.nio_conversation import Side, encrypted_conversation
from tests.e2e.servers import HOST, RunningServer, free_port, start_monolith

pytestmark = pytest.mark.e2e

A, B = "hs-a.test", "hs-b.test"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningServer]]:
    ports = {A: free_port(), B: free_port()}
    url = {name: f"http://{HOST}:{port}" for name, port in ports.items()}
    started: dict[str, RunningServer] = {}
    try:
        for name, other in ((A, B), (B, A)):
            started[name] = start_monolith(tmp_path_factory.mktemp(name), port=ports[name], server_name=name,
                                           federation_test_hosts={other: url[other]},
                                           ip_range_whitelist=["127.0.0.0/8"])
        yield started
    finally:
        for server in started.values():
            server.stop()


def test_an_encrypted_conversation_across_servers_and_a_remote_users_later_device(
        servers: dict[str, RunningServer], tmp_path: Path) -> None:
    asyncio.run(encrypted_conversation(Side(servers[A], A), Side(servers[B], B), tmp_path))
