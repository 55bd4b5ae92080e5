"""Redis restarts while /sync long-polls wait: the web workers reconnect and the waiting syncs complete; every
answer meanwhile is a 200 or a 503 a client retries (never another 5xx), and a token revoked while Redis is down
is refused at once by every web process.

Never the shared Redis: this test starts its own redis-server on a private loopback port (no persistence, so a
restart loses every key, the worst case: queues, bindings and subscriptions all gone) and stops it by PID.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from ganglion.wiring import LEASE_TTL_MS
from tests.e2e.servers import HOST, RunningServer, start_workers

READERS = 3


class PrivateRedis:
    def __init__(self, directory: Path) -> None:
        self.port = 16379 + os.getpid() % 1000
        self.directory = directory
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.directory / "redis.log", "ab")  # noqa: SIM115 - handed to the child, closed with it
        self.popen = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        client = redis.Redis(host=HOST, port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "private redis-server did not start"
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, private_redis: PrivateRedis) -> Iterator[RunningServer]:
    running = start_workers(Path(tmp_path_factory.mktemp("redisrestart")),
                            redis_extra={"port": private_redis.port, "dbid": 0, "visibility_timeout": 10})
    yield running
    running.stop()


def _register(client: httpx.Client, name: str) -> str:
    body = {"username": name, "password": "pw", "auth": {"type": "m.login.dummy"}}
    return str(client.post("/_matrix/client/v3/register", json=body).json()["access_token"])


def _long_poll_until_seen(base_url: str, token: str, since: str, event_id: list[str], answered: list[float],
                          seen: list[float], deadline: float) -> None:
    """What a client does: long-poll, and on any answer (or error) poll again from the newest token."""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=40) as client:
        while time.monotonic() < deadline:
            try:
                response = client.get("/_matrix/client/v3/sync", params={"since": since, "timeout": 20000})
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            answered.append(time.monotonic())
            if response.status_code != 200:
                assert response.status_code == 503 and "errcode" in response.json(), response.text
                time.sleep(0.2)
                continue
            body = response.json()
            since = body["next_batch"]
            events = [event["event_id"] for room in body["rooms"]["join"].values()
                      for event in room["timeline"]["events"]]
            if event_id and event_id[0] in events:
                seen.append(time.monotonic())
                return


@pytest.mark.e2e
def test_waiting_syncs_complete_across_a_redis_restart(server: RunningServer, private_redis: PrivateRedis) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        sender = _register(client, "rr_sender")
        readers = [_register(client, f"rr_reader{index}") for index in range(READERS)]
        room = client.post("/_matrix/client/v3/createRoom", json={"preset": "public_chat"},
                           headers={"Authorization": f"Bearer {sender}"}).json()["room_id"]
        tokens = []
        for token in readers:
            auth = {"Authorization": f"Bearer {token}"}
            assert client.post(f"/_matrix/client/v3/rooms/{room}/join", json={}, headers=auth).status_code == 200
            tokens.append(client.get("/_matrix/client/v3/sync", headers=auth).json()["next_batch"])

    deadline = time.monotonic() + 120
    event_id: list[str] = []
    answered: list[list[float]] = [[] for _ in readers]
    seen: list[list[float]] = [[] for _ in readers]
    polls = [threading.Thread(target=_long_poll_until_seen, args=(
        server.base_url, token, tokens[index], event_id, answered[index], seen[index], deadline))
        for index, token in enumerate(readers)]
    for thread in polls:
        thread.start()
    time.sleep(1.0)  # the long-polls are waiting
    private_redis.stop()
    time.sleep(1.0)
    private_redis.start()
    restarted = time.monotonic()

    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {sender}"}, timeout=40) as client:
        while not event_id:
            assert time.monotonic() < deadline, "the send was never answered after the restart"
            response = client.put(f"/_matrix/client/v3/rooms/{room}/send/m.room.message/after-restart",
                                  json={"msgtype": "m.text", "body": "after the restart"})
            if response.status_code == 200:
                event_id.append(response.json()["event_id"])
            else:
                assert response.status_code == 503 and "errcode" in response.json(), response.text
                assert response.headers.get("Retry-After"), "a 503 says when to try again"
                time.sleep(0.5)
    sent = time.monotonic()
    for thread in polls:
        thread.join(timeout=90)
    assert not any(thread.is_alive() for thread in polls), "every waiting client was answered"
    assert all(seen), "every reader received the event sent after the restart"
    assert sent - restarted < 60, "sends work again soon after Redis is back"
    assert max(times[0] for times in seen) - sent < 25, "waiting syncs woke for it (not only at their timeout)"

    # The restart also took the worker's instance lease; its keeper takes it back on its next renewal instead of
    # stopping the worker, so after two renewal intervals every process still runs and sends still go through.
    time.sleep(max(0.0, restarted + 2 * LEASE_TTL_MS / 3000 - time.monotonic()))
    assert [process.name for process in server.processes if process.popen.poll() is not None] == []
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {sender}"}, timeout=40) as client:
        later = client.put(f"/_matrix/client/v3/rooms/{room}/send/m.room.message/later",
                           json={"msgtype": "m.text", "body": "later"})
        assert later.status_code == 200, later.text


WHOAMI = "/_matrix/client/v3/account/whoami"


@pytest.mark.e2e
def test_a_revoked_token_is_refused_by_every_web_process_at_once_with_redis_up_or_down(
        server: RunningServer, private_redis: PrivateRedis) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        auth = {"Authorization": f"Bearer {_register(client, 'rr_revoked_up')}"}
        for _ in range(20):
            assert client.get(WHOAMI, headers=auth).status_code == 200
        assert client.post("/_matrix/client/v3/logout", json={}, headers=auth).status_code == 200
        assert {client.get(WHOAMI, headers=auth).status_code for _ in range(20)} == {401}, "at once, not eventually"

        token = _register(client, "rr_revoked")
        auth = {"Authorization": f"Bearer {token}"}
        for _ in range(20):  # cached by both gunicorn workers
            assert client.get(WHOAMI, headers=auth).status_code == 200
        private_redis.stop()
        try:
            assert client.post("/_matrix/client/v3/logout", json={}, headers=auth).status_code == 200
            statuses = {client.get(WHOAMI, headers=auth).status_code for _ in range(20)}
        finally:
            private_redis.start()
        assert statuses == {401}, "no process trusts its cache while it cannot hear of revocations"
        for _ in range(20):
            assert client.get(WHOAMI, headers=auth).status_code == 401
