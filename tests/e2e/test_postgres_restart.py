"""PostgreSQL restarts under a running worker-shape server: clear, retryable errors while it is away (a 5xx with
an errcode, never a hang or a traceback), then recovery without restarting anything of ours.

Never the shared PostgreSQL: this test initialises a private cluster on another loopback port in a temporary
directory (``initdb`` + ``pg_ctl``, as the ``postgres`` user when run as root) and stops it through its own pid file.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.servers import HOST, RunningServer, start_workers

BIN = Path("/usr/lib/postgresql/15/bin")
REQUEST_TIMEOUT = 40.0


class PrivatePostgres:
    def __init__(self) -> None:
        self.port = 25432 + os.getpid() % 1000
        self.directory = Path(tempfile.mkdtemp(prefix="ganglion-pg-"))
        self.data = self.directory / "data"
        self._as = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        if os.getuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)

    def _run(self, *argv: str) -> None:
        subprocess.run([*self._as, *argv], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run(str(BIN / "initdb"), "-D", str(self.data), "--auth=trust", "-U", "postgres", "--no-sync",
                  "-E", "UTF8", "--locale=C")
        self.start()
        self._run(str(BIN / "createdb"), "-h", HOST, "-p", str(self.port), "-U", "postgres", "ganglion")

    def start(self) -> None:
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.directory / "postgres.log"), "-w",
                  "-o", f"-p {self.port} -k {self.directory} -c listen_addresses={HOST} -c fsync=off", "start")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    if not (BIN / "initdb").exists() or (os.getuid() == 0 and shutil.which("runuser") is None):
        pytest.skip("no PostgreSQL 15 binaries to start a private cluster with")
    cluster = PrivatePostgres()
    try:
        cluster.init()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, private_postgres: PrivatePostgres) -> Iterator[RunningServer]:
    running = start_workers(Path(tmp_path_factory.mktemp("pgrestart")), database_args={
        "user": "postgres", "host": HOST, "port": private_postgres.port, "dbname": "ganglion"})
    yield running
    running.stop()


def _clear_or_ok(response: httpx.Response) -> None:
    if response.status_code != 200:
        assert response.status_code >= 500, response.text
        assert response.json()["errcode"] in ("M_UNKNOWN", "M_LIMIT_EXCEEDED"), response.text


@pytest.mark.e2e
def test_postgres_away_gives_clear_errors_then_everything_recovers(server: RunningServer,
                                                                   private_postgres: PrivatePostgres) -> None:
    with httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT) as client:
        body = {"username": "pgr", "password": "pw", "auth": {"type": "m.login.dummy"}}
        token = client.post("/_matrix/client/v3/register", json=body).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        room = client.post("/_matrix/client/v3/createRoom", json={}).json()["room_id"]
        since = client.get("/_matrix/client/v3/sync").json()["next_batch"]

        private_postgres.stop()
        outage = [
            client.get("/_matrix/client/v3/sync", params={"since": since, "timeout": 1000}),
            client.put(f"/_matrix/client/v3/rooms/{room}/send/m.room.message/during",
                       json={"msgtype": "m.text", "body": "during"}),
            client.get("/_matrix/client/v3/account/whoami"),
            client.post("/_matrix/client/v3/register", json={**body, "username": "pgr2"}),
        ]
        for response in outage:  # whoami may still answer from the access-token cache
            _clear_or_ok(response)
        assert outage[1].status_code >= 500 and outage[3].status_code >= 500, "writes cannot succeed"
        assert any(response.status_code == 503 for response in outage), "an outage says: try again"

        private_postgres.start()
        deadline = time.monotonic() + 90
        while True:
            assert time.monotonic() < deadline, "the server did not recover after PostgreSQL came back"
            sent = client.put(f"/_matrix/client/v3/rooms/{room}/send/m.room.message/during",
                              json={"msgtype": "m.text", "body": "during"})
            _clear_or_ok(sent)
            if sent.status_code == 200:
                break
            time.sleep(0.5)
        synced = client.get("/_matrix/client/v3/sync", params={"since": since, "timeout": 0})
        assert synced.status_code == 200
        events = [event["event_id"] for event in synced.json()["rooms"]["join"][room]["timeline"]["events"]]
        assert events.count(sent.json()["event_id"]) == 1, "the send made during the outage happened once"
        assert client.get("/_matrix/client/v3/account/whoami").status_code == 200
