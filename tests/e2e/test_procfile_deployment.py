"""The repository's Procfile, as written, brought up by honcho with the deploy/ configs (tests/e2e/procfile.py):
a matrix-nio conversation crosses both web processes, and the balancer the client end-to-end modules talk through
reaches both of them. The client modules themselves run against this same deployment (servers.E2E_SHAPES)."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request

import pytest
from nio import JoinResponse, RoomCreateResponse, RoomSendResponse, SyncResponse

from tests.e2e.nio_clients import expect, registered_client
from tests.e2e.procfile import ProcfileDeployment, SharedDeployment
from tests.e2e.servers import HOST

pytestmark = [pytest.mark.e2e, pytest.mark.workers]

VERSIONS = '/_matrix/client/versions'


@pytest.fixture
def deployment(procfile_deployment: SharedDeployment) -> ProcfileDeployment:
    return procfile_deployment.running()


def test_the_procfile_brings_up_every_process_and_a_conversation_crosses_the_web_processes(
        deployment: ProcfileDeployment) -> None:
    assert [web.name for web in deployment.web] == ["web1", "web2"]
    web1, web2 = deployment.web_processes()

    async def conversation() -> None:
        alice, bob = await registered_client(web1, "alice"), await registered_client(web2, "bob")
        try:
            room = expect(await alice.room_create(name="Procfile"), RoomCreateResponse).room_id
            invited = await alice.room_invite(room, bob.user_id)
            assert invited.transport_response.ok, invited
            expect(await bob.join(room), JoinResponse)
            for index in range(5):
                expect(await alice.room_send(room, "m.room.message", {"msgtype": "m.text", "body": f"hi {index}"}),
                       RoomSendResponse)
            seen: list[str] = []
            deadline = time.monotonic() + 30
            while len(seen) < 5:
                assert time.monotonic() < deadline, f"bob saw only {seen}"
                sync = expect(await bob.sync(timeout=5000), SyncResponse)
                joined = sync.rooms.join.get(room)
                if joined:
                    seen += [event.body for event in joined.timeline.events if hasattr(event, "body")]
            assert seen == [f"hi {index}" for index in range(5)], "in order, once each"
        finally:
            await alice.close()
            await bob.close()

    asyncio.run(conversation())
    assert all(process.popen.poll() is None for process in deployment.processes), deployment.logs()


def _versions_served(metrics_port: int) -> float:
    """How many 200s for GET /versions this web process reports on its metrics listener."""
    with urllib.request.urlopen(f"http://{HOST}:{metrics_port}/metrics", timeout=10) as response:
        text = response.read().decode()
    pattern = (r'^ganglion_http_responses_total\{(?=[^}]*method="GET")(?=[^}]*route="' + re.escape(VERSIONS)
               + r'")(?=[^}]*status="200")[^}]*\} (\S+)$')
    return sum(float(count) for count in re.findall(pattern, text, flags=re.MULTILINE))


def test_fresh_connections_through_the_balancer_reach_both_web_processes(deployment: ProcfileDeployment) -> None:
    before = [_versions_served(web.metrics_port) for web in deployment.web]
    for _ in range(4):  # urlopen opens a connection per request
        with urllib.request.urlopen(f"{deployment.base_url}{VERSIONS}", timeout=10) as response:
            assert response.status == 200
    after = [_versions_served(web.metrics_port) for web in deployment.web]
    assert [later - earlier for earlier, later in zip(before, after, strict=True)] == [2, 2], "round robin"
