"""A federation sender SIGKILLed while its transaction is on the wire: once it is back, the destination gets that
transaction again under the same id with the same body, then what came after; no id ever carries two bodies.

Worker shape, real Celery: ``sender1`` is the only federation sender (``send_federation: false`` on main,
``outbound_federation_restricted_to: [sender1]``). The remote holds the first request, so the kill lands between
sending and recording. The message the dead sender held comes back after ``redis.visibility_timeout`` and is
dropped by the ledger (its task id ran); the stored transaction is sent again once the dead sender's claim runs out
and the destination is poked.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from config import load_config
from ganglion.wiring import build_web_worker
from tasks import api as tasks_api
from tests.e2e.servers import RunningServer, _spawn, celery_nodes, query, start_workers, wait_for_celery
from tests.federation_remote import RemoteServer, running_remote_server

LIMIT = {"per_second": 100000, "burst_count": 100000}
VISIBILITY_TIMEOUT = 10
REMOTE = "remote.test"
BOB = "@bob:remote.test"


@pytest.fixture(scope="module")
def remote() -> Iterator[RemoteServer]:
    with running_remote_server() as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, remote: RemoteServer) -> Iterator[RunningServer]:
    running = start_workers(Path(tmp_path_factory.mktemp("fedcrash")), instances=("main", "sender1"),
                            federation_sender_instances=["sender1"], send_federation=False,
                            outbound_federation_restricted_to=["sender1"],
                            federation_test_hosts={REMOTE: remote.base_url}, ip_range_whitelist=["127.0.0.0/8"],
                            federation={"client_timeout": "3s", "destination_min_retry_interval": "1s"},
                            rc_message=LIMIT, rc_room_creation=LIMIT,
                            redis_extra={"visibility_timeout": VISIBILITY_TIMEOUT})
    yield running
    running.stop()


def _wait(probe: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not probe():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.mark.e2e
def test_sigkilled_sender_sends_the_same_transaction_again_and_nothing_twice(server: RunningServer,
                                                                            remote: RemoteServer) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        body = {"username": "fedcrash", "password": "pw", "auth": {"type": "m.login.dummy"}}
        token = client.post("/_matrix/client/v3/register", json=body).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        room = client.post("/_matrix/client/v3/createRoom", json={"preset": "public_chat"},
                           headers=auth).json()["room_id"]
        deps = build_web_worker(load_config([str(server.config_path)]))
        try:  # Bob's join, stored as if his server had sent it (through the room's events writer)
            tasks_api.create_event(deps.dispatcher, room_id=room, sender=BOB, event_type="m.room.member",
                                   state_key=BOB, content={"membership": "join"})
        finally:
            deps.doorbell.close()
            deps.database.dispose()

        # Bob's server is sent Alice's presence as he joins; then the remote holds on to the next transaction.
        _wait(lambda: any(item.edus("m.presence") for item in remote.received), 30, "presence shared on the join")
        remote.release.clear()
        remote.arrived.clear()
        client.put(f"/_matrix/client/v3/rooms/{room}/send/m.room.message/1",
                   json={"msgtype": "m.text", "body": "before the crash"}, headers=auth)
        assert remote.arrived.wait(30), "the sender sent the transaction"
        sender = next(process for process in server.processes if process.name == "worker-sender1")
        os.killpg(sender.popen.pid, signal.SIGKILL)
        sender.popen.wait(timeout=10)
        remote.release.set()
        server.processes[server.processes.index(sender)] = _spawn(sender.name, sender.argv, server.directory)
        wait_for_celery(server, workers=celery_nodes(server.config_path, ("main", "sender1")))

        # The dead sender's claim runs out; the next event's poke finds the stored transaction and sends it first.
        claim = query(server, "SELECT claimed_until_ts FROM federation_destinations WHERE destination = :d",
                      d=REMOTE)[0][0]
        _wait(lambda: time.time() * 1000 > claim, 60, "the claim ran out")
        client.put(f"/_matrix/client/v3/rooms/{room}/send/m.room.message/2",
                   json={"msgtype": "m.text", "body": "after the crash"}, headers=auth)
        _wait(lambda: any("after the crash" in item.bodies for item in remote.received), 60,
              "the destination got the event sent after the crash")

    first = next(item for item in remote.received if item.bodies)
    assert first.bodies == ["before the crash"]
    again = [item for item in remote.received[remote.received.index(first) + 1:] if item.txn_id == first.txn_id]
    assert again and all(item.body == first.body for item in again), "the same id came back with the same body"
    bodies: dict[str, dict[str, object]] = {}
    for item in remote.received:
        assert bodies.setdefault(item.txn_id, item.body) == item.body, "no transaction id carries two bodies"
    delivered = [body for txn in remote.transactions().values()
                 for body in (pdu["content"]["body"] for pdu in txn["pdus"] if pdu["type"] == "m.room.message")]
    assert delivered == ["before the crash", "after the crash"], "each event in exactly one transaction"
    pending = query(server, "SELECT count(*) FROM federation_outbound_queue WHERE destination = :d", d=REMOTE)
    assert pending[0][0] == 0
