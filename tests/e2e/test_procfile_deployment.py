"""The repository's Procfile, as written, brought up by honcho with the deploy/ configs (only ports, database and
Redis database changed) on local PostgreSQL and Redis: a matrix-nio conversation crosses both web processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from nio import JoinResponse, RoomCreateResponse, RoomSendResponse, SyncResponse

from config import load_config
from config.pools import plan_pools
from tasks.app import create_celery
from tests.e2e.nio_clients import expect, registered_client
from tests.e2e.servers import GENEROUS, RunningServer, free_port, wait_for_versions, xdist_slot
from tests.services import drop_pg_database, pg_database_args, recreate_pg_database, redis_client

pytestmark = [pytest.mark.e2e, pytest.mark.workers]

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 120.0


@dataclass
class Deployment:
    directory: Path
    honcho: subprocess.Popen[bytes]
    log_path: Path
    web: list[RunningServer]

    def log_tail(self, chars: int = 6000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        """SIGTERM to honcho (it stops its processes); then SIGKILL to any process group honcho started."""
        started = [int(pid) for pid in re.findall(r"started with pid (\d+)", self.log_path.read_text())]
        if self.honcho.poll() is None:
            self.honcho.terminate()
            try:
                self.honcho.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.honcho.pid, signal.SIGKILL)
                self.honcho.wait(timeout=10)
        for pid in started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def _prepare(directory: Path, pg_name: str, redis_db: int) -> tuple[Path, list[int]]:
    """Copy Procfile and deploy/ as they are; give the copy its own database, Redis db and free ports."""
    shutil.copy(REPO / "Procfile", directory / "Procfile")
    shutil.copytree(REPO / "deploy", directory / "deploy")
    shared = directory / "deploy" / "homeserver.yaml"
    data = yaml.safe_load(shared.read_text())
    data.update({
        "database": {"name": "psycopg2", "args": pg_database_args(pg_name)},
        "redis": {**data["redis"], "dbid": redis_db, "key_prefix": f"{pg_name}:"},
        "enable_registration": True, "enable_registration_without_verification": True, "bcrypt_rounds": 4,
        "rc_registration": GENEROUS, "rc_message": GENEROUS, "rc_room_creation": GENEROUS,
        "rc_login": {"address": GENEROUS, "account": GENEROUS, "failed_attempts": GENEROUS},
    })
    shared.write_text(yaml.safe_dump(data, sort_keys=False))
    web_ports = []
    for worker in sorted((directory / "deploy" / "workers").glob("*.yaml")):
        worker_data = yaml.safe_load(worker.read_text())
        for listener in worker_data.get("worker_listeners", []):
            listener["port"] = free_port()
            if listener["type"] == "http":
                web_ports.append(listener["port"])
        worker.write_text(yaml.safe_dump(worker_data, sort_keys=False))
    return shared, web_ports


def _celery_instances(procfile: Path) -> list[str]:
    return re.findall(r"^\w+: ganglion worker (\S+)", procfile.read_text(), flags=re.MULTILINE)


def _wait_for_celery(shared: Path, instances: list[str], deployment: Deployment) -> None:
    config = load_config([str(shared)])
    expected = sum(len(plan_pools(config.routing, instance, 1)) for instance in instances)
    app = create_celery(config)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    try:
        while len(app.control.ping(timeout=1.0)) < expected:
            assert deployment.honcho.poll() is None, deployment.log_tail()
            assert time.monotonic() < deadline, f"fewer than {expected} Celery nodes:\n{deployment.log_tail()}"
    finally:
        app.close()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    directory = Path(tmp_path_factory.mktemp("procfile"))
    pg_name = f"ganglion_procfile_{os.getpid()}"
    redis_db = 14 - (xdist_slot() + 7) % 14
    recreate_pg_database(pg_name)
    shared, web_ports = _prepare(directory, pg_name, redis_db)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    migrated = subprocess.run(["ganglion", "migrate", "--config", "deploy/homeserver.yaml"], cwd=directory, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
    assert migrated.returncode == 0, migrated.stderr
    log_path = directory / "honcho.log"
    with open(log_path, "wb") as log:
        honcho = subprocess.Popen([str(Path(sys.executable).parent / "honcho"), "start", "--no-colour",
                                   "-f", "Procfile", "-d", str(directory)], cwd=directory, env=env, stdout=log,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    running = Deployment(directory, honcho, log_path,
                         [RunningServer("procfile", directory, shared, port) for port in web_ports])
    try:
        _wait_for_celery(shared, _celery_instances(directory / "Procfile"), running)
        for web in running.web:
            wait_for_versions(web, timeout=STARTUP_TIMEOUT)
        yield running
    finally:
        running.stop()
        drop_pg_database(pg_name)
        client = redis_client(redis_db)
        for key in client.scan_iter(match=f"{pg_name}:*"):
            client.delete(key)


def test_the_procfile_brings_up_every_process_and_a_conversation_crosses_the_web_processes(
        deployment: Deployment) -> None:
    assert len(deployment.web) == 2
    web1, web2 = deployment.web

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
    assert deployment.honcho.poll() is None, deployment.log_tail()
