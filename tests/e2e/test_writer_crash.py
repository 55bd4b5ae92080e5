"""An events writer killed mid-burst (SIGKILL) loses and duplicates nothing once it is back.

Clients do what real clients do on a 5xx or a timeout: retry with the same transaction id. Celery delivers at
least once (acks_late); the writer's transaction-id check makes the effect exactly once. The message the killed
writer held comes back after ``redis.visibility_timeout`` (short here) and changes nothing.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.servers import RunningServer, _spawn, celery_nodes, query, start_workers, wait_for_celery
from tests.services import redis_client

LIMIT = {"per_second": 100000, "burst_count": 100000}
SENDERS = 3
MESSAGES = 15
VISIBILITY_TIMEOUT = 10


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_workers(Path(tmp_path_factory.mktemp("crash")), instances=("main", "persister1"),
                            stream_writers={"events": ["persister1"]}, rc_message=LIMIT, rc_room_creation=LIMIT,
                            redis_extra={"visibility_timeout": VISIBILITY_TIMEOUT})
    yield running
    running.stop()


def _send_with_retries(base_url: str, token: str, room: str, sender: int, deadline: float) -> list[str]:
    ids = []
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=45) as client:
        for index in range(MESSAGES):
            path = f"/_matrix/client/v3/rooms/{room}/send/m.room.message/s{sender}m{index}"
            while True:
                assert time.monotonic() < deadline, "a send was never answered"
                try:
                    response = client.put(path, json={"msgtype": "m.text", "body": f"{sender}:{index}"})
                except httpx.TimeoutException:
                    continue
                if response.status_code == 200:
                    ids.append(response.json()["event_id"])
                    break
                assert response.status_code >= 500, response.text  # only "try again" answers are retried
                time.sleep(0.2)
    return ids


@pytest.mark.e2e
def test_sigkilled_writer_loses_and_duplicates_nothing(server: RunningServer) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        tokens = []
        for index in range(SENDERS):
            body = {"username": f"crash{index}", "password": "pw", "auth": {"type": "m.login.dummy"}}
            tokens.append(client.post("/_matrix/client/v3/register", json=body).json()["access_token"])
        room = client.post("/_matrix/client/v3/createRoom", json={"preset": "public_chat"},
                           headers={"Authorization": f"Bearer {tokens[0]}"}).json()["room_id"]
        for token in tokens[1:]:
            client.post(f"/_matrix/client/v3/rooms/{room}/join", json={}, headers={"Authorization": f"Bearer {token}"})

    deadline = time.monotonic() + 150
    results: dict[int, list[str]] = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(
        i, _send_with_retries(server.base_url, tokens[i], room, i, deadline))) for i in range(SENDERS)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # mid-burst
    persister = next(process for process in server.processes if process.name == "worker-persister1")
    os.killpg(persister.popen.pid, signal.SIGKILL)
    persister.popen.wait(timeout=10)
    time.sleep(2)
    server.processes[server.processes.index(persister)] = _spawn(persister.name, persister.argv, server.directory)
    wait_for_celery(server, workers=celery_nodes(server.config_path, ("main", "persister1")))
    for thread in threads:
        thread.join(timeout=160)
    assert set(results) == set(range(SENDERS)), "every sender finished"

    rows = query(server, "SELECT event_id, depth, json FROM events WHERE room_id = :room AND type = 'm.room.message' "
                         "ORDER BY stream_ordering", room=room)
    assert len(rows) == SENDERS * MESSAGES, "nothing lost, nothing duplicated"
    assert sorted(row[0] for row in rows) == sorted(event_id for ids in results.values() for event_id in ids)
    for sender in range(SENDERS):
        order = [int(row[2].split(f'"body":"{sender}:')[1].split('"')[0]) for row in rows
                 if f'"body":"{sender}:' in row[2]]
        assert order == list(range(MESSAGES)), "each sender's order kept"
    extremities = query(server, "SELECT count(*) FROM event_forward_extremities WHERE room_id = :room", room=room)
    assert extremities[0][0] == 1

    # The message the writer held when it died is delivered again once its visibility times out, and is a no-op.
    client = redis_client(server.redis_db or 0)
    try:
        unacked = f"{server.key_prefix}unacked"
        waited = time.monotonic() + VISIBILITY_TIMEOUT * 4
        while client.hlen(unacked) and time.monotonic() < waited:
            time.sleep(0.5)
        assert client.hlen(unacked) == 0, "every message taken by the killed writer was redelivered and acked"
    finally:
        client.close()
    again = query(server, "SELECT count(*) FROM events WHERE room_id = :room AND type = 'm.room.message'", room=room)
    assert again[0][0] == SENDERS * MESSAGES
