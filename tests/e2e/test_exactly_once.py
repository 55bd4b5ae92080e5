"""Writes without a transaction id survive SIGKILLed events writers exactly once, and in the order acknowledged;
a captured, genuinely signed task message pushed back into Redis changes nothing.

Worker shape with two events writers. Clients do what clients do on a 503: send the same request again. The web
tier waits ``redis.result_timeout`` (short here) for a result; when it gives up it refuses the task for good
before answering 503 (tasks/ledger.py), so the message the killed writer held, delivered again after
``redis.visibility_timeout`` (short here too), never lands after the client's later writes.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ganglion.wiring import LEASE_TTL_MS
from tests.e2e.servers import RunningServer, _spawn, celery_nodes, query, start_workers, wait_for_celery
from tests.services import redis_client

INSTANCES = ("main", "persister1", "persister2")
PERSISTERS = ("worker-persister1", "worker-persister2")
LIMIT = {"per_second": 100000, "burst_count": 100000}
VISIBILITY_TIMEOUT = 5
RESULT_TIMEOUT = 10
ROOMS = 4
WRITES = 12


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_workers(Path(tmp_path_factory.mktemp("exactlyonce")), instances=INSTANCES,
                            stream_writers={"events": ["persister1", "persister2"]}, rc_message=LIMIT,
                            rc_room_creation=LIMIT, rc_joins={"local": LIMIT, "remote": LIMIT}, rc_joins_per_room=LIMIT,
                            redis_extra={"visibility_timeout": VISIBILITY_TIMEOUT, "result_timeout": RESULT_TIMEOUT},
                            worker_replication_secret="e2e-replication-secret")
    yield running
    running.stop()


def _register(client: httpx.Client, name: str) -> str:
    body = {"username": name, "password": "pw", "auth": {"type": "m.login.dummy"}}
    return str(client.post("/_matrix/client/v3/register", json=body).json()["access_token"])


def _kill_persisters(server: RunningServer) -> None:
    for process in server.processes:
        if process.name in PERSISTERS:
            os.killpg(process.popen.pid, signal.SIGKILL)
            process.popen.wait(timeout=10)


def _restart_persisters(server: RunningServer, *, wait: bool = True) -> None:
    for index, process in enumerate(server.processes):
        if process.name in PERSISTERS:
            server.processes[index] = _spawn(process.name, process.argv, server.directory)
    if wait:
        wait_for_celery(server, workers=celery_nodes(server.config_path, INSTANCES))


def _wait_for_redeliveries(server: RunningServer) -> None:
    """Until every message the killed writers held has been delivered again (and acked)."""
    client = redis_client(server.redis_db or 0)
    try:
        unacked = f"{server.key_prefix}unacked"
        deadline = time.monotonic() + VISIBILITY_TIMEOUT * 6
        while client.hlen(unacked) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert client.hlen(unacked) == 0, "every message taken by a killed writer was delivered again"
    finally:
        client.close()
    time.sleep(2)  # and run


def _retrying(client: httpx.Client, method: str, path: str, body: dict[str, object], unavailable: list[int],
              deadline: float) -> httpx.Response:
    """A client: the same request again on 503 (or a dropped connection) until it is answered."""
    while True:
        assert time.monotonic() < deadline, f"{method} {path} was never answered"
        try:
            response = client.request(method, path, json=body)
        except httpx.TransportError:
            continue
        if response.status_code != 503:
            return response
        assert response.json()["errcode"] == "M_UNKNOWN" and response.headers.get("Retry-After"), response.text
        unavailable.append(1)
        time.sleep(0.2)


def _with_writers_killed_midway(server: RunningServer, workloads: list[Callable[[], None]]) -> None:
    threads = [threading.Thread(target=workload) for workload in workloads]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # mid-burst
    _kill_persisters(server)
    time.sleep(RESULT_TIMEOUT + 1)  # requests in flight are answered 503 and retried
    _restart_persisters(server)
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "every client finished"
    _wait_for_redeliveries(server)


@pytest.mark.e2e
def test_state_written_without_txn_ids_ends_at_the_last_acknowledged_write_each_once(server: RunningServer) -> None:
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        token = _register(client, "eo_topics")
        auth = {"Authorization": f"Bearer {token}"}
        rooms = [client.post("/_matrix/client/v3/createRoom", json={}, headers=auth).json()["room_id"]
                 for _ in range(ROOMS)]
    deadline = time.monotonic() + 150
    acknowledged: dict[str, list[str]] = {room: [] for room in rooms}
    unavailable: list[int] = []

    def write_topics(room: str) -> None:
        with httpx.Client(base_url=server.base_url, headers=auth, timeout=60) as client:
            for version in range(1, WRITES + 1):
                topic = f"v{version}"
                response = _retrying(client, "PUT", f"/_matrix/client/v3/rooms/{room}/state/m.room.topic",
                                     {"topic": topic}, unavailable, deadline)
                assert response.status_code == 200, response.text
                acknowledged[room].append(topic)
                time.sleep(0.3)

    _with_writers_killed_midway(server, [lambda room=room: write_topics(room) for room in rooms])
    assert unavailable, "the writers died while requests waited: some were answered 503"
    with httpx.Client(base_url=server.base_url, headers=auth, timeout=30) as client:
        for room in rooms:
            current = client.get(f"/_matrix/client/v3/rooms/{room}/state/m.room.topic").json()
            assert current == {"topic": f"v{WRITES}"}, "the room ends at the last acknowledged write"
            rows = query(server, "SELECT json FROM events WHERE room_id = :room AND type = 'm.room.topic' "
                                 "ORDER BY stream_ordering", room=room)
            topics = [json.loads(row[0])["content"]["topic"] for row in rows]
            assert topics == acknowledged[room] == [f"v{n}" for n in range(1, WRITES + 1)], \
                "each write once, in the order acknowledged"


@pytest.mark.e2e
def test_membership_changes_end_at_the_last_acknowledged_one_each_once(server: RunningServer) -> None:
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        owner = {"Authorization": f"Bearer {_register(client, 'eo_owner')}"}
        member_token = _register(client, "eo_member")
        rooms = [client.post("/_matrix/client/v3/createRoom", json={"preset": "public_chat"},
                             headers=owner).json()["room_id"] for _ in range(ROOMS)]
    member = {"Authorization": f"Bearer {member_token}"}
    deadline = time.monotonic() + 150
    acknowledged: dict[str, list[str]] = {room: [] for room in rooms}
    unavailable: list[int] = []

    def join_and_leave(room: str) -> None:
        with httpx.Client(base_url=server.base_url, headers=member, timeout=60) as client:
            for step in range(WRITES):
                action = "join" if step % 2 == 0 else "leave"
                response = _retrying(client, "POST", f"/_matrix/client/v3/rooms/{room}/{action}", {}, unavailable,
                                     deadline)
                assert response.status_code == 200, response.text
                acknowledged[room].append(action)
                time.sleep(0.3)

    _with_writers_killed_midway(server, [lambda room=room: join_and_leave(room) for room in rooms])
    assert unavailable, "the writers died while requests waited: some were answered 503"
    for room in rooms:
        rows = query(server, "SELECT json FROM events WHERE room_id = :room AND type = 'm.room.member' "
                             "AND state_key = '@eo_member:localhost' ORDER BY stream_ordering", room=room)
        memberships = [json.loads(row[0])["content"]["membership"] for row in rows]
        assert memberships == acknowledged[room], "each change once, in the order acknowledged"
        current = query(server, "SELECT membership FROM current_state_events WHERE room_id = :room "
                                "AND type = 'm.room.member' AND state_key = '@eo_member:localhost'", room=room)
        assert current[0][0] == "leave", "the room ends at the last acknowledged change"


def _queued_messages(server: RunningServer) -> list[tuple[str, bytes]]:
    client = redis_client(server.redis_db or 0)
    try:
        return [(queue, raw) for queue in (f"{server.key_prefix}events.persister1",
                                           f"{server.key_prefix}events.persister2")
                for raw in client.lrange(queue, 0, -1)]
    finally:
        client.close()


@pytest.mark.e2e
def test_a_captured_signed_message_pushed_back_changes_nothing(server: RunningServer) -> None:
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        admin = {"Authorization": f"Bearer {_register(client, 'eo_admin')}"}
        _register(client, "eo_grantee")
        room = client.post("/_matrix/client/v3/createRoom", json={"preset": "public_chat"},
                           headers=admin).json()["room_id"]
        levels_path = f"/_matrix/client/v3/rooms/{room}/state/m.room.power_levels"
        levels = client.get(levels_path, headers=admin).json()

        # The grant waits in its writer's queue while the writers are down: capture it as an attacker would.
        _kill_persisters(server)
        time.sleep(LEASE_TTL_MS / 1000 + 1)  # their leases expire, so new ones start consuming at once
        granted: list[httpx.Response] = []
        grant = {**levels, "users": {**levels["users"], "@eo_grantee:localhost": 100}}
        sender = threading.Thread(target=lambda: granted.append(client.put(levels_path, json=grant, headers=admin)))
        sender.start()
        captured: list[tuple[str, bytes]] = []
        while not captured:
            captured = [(queue, raw) for queue, raw in _queued_messages(server)
                        if json.loads(raw)["headers"]["task"] == "events.create"]
            time.sleep(0.05)
        _restart_persisters(server, wait=False)  # the grant's request is still waiting for its result
        sender.join(timeout=60)
        wait_for_celery(server, workers=celery_nodes(server.config_path, INSTANCES))
        assert granted[0].status_code == 200, granted[0].text

        revoked = {**levels, "users": {**levels["users"], "@eo_grantee:localhost": 0}}
        assert client.put(levels_path, json=revoked, headers=admin).status_code == 200
        before = query(server, "SELECT count(*) FROM events WHERE room_id = :room", room=room)[0][0]

        (queue, raw), = captured
        assert json.loads(raw)["headers"]["ganglion_mac"], "a genuinely signed message"
        redis = redis_client(server.redis_db or 0)
        try:
            redis.lpush(queue, raw)
        finally:
            redis.close()
        task_id = json.loads(raw)["headers"]["id"]
        deadline = time.monotonic() + 30
        while not any(f"dropped events.create {task_id}: already_run" in process.log_path.read_text(errors="replace")
                      for process in server.processes):
            assert time.monotonic() < deadline, "the replayed message was dropped and logged"
            time.sleep(0.3)
        assert client.get(levels_path, headers=admin).json()["users"]["@eo_grantee:localhost"] == 0
        assert query(server, "SELECT count(*) FROM events WHERE room_id = :room", room=room)[0][0] == before
