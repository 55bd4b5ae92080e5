"""The repository's Procfile, as written, brought up by honcho with the deploy/ configs on local PostgreSQL and
Redis: the full worker deployment (two web processes, two events writers, the streams writer, federation, pusher,
appservice and background workers, beat) as an end-to-end test server.

Only what a test machine needs changes in the copied configs: the database and Redis database, free loopback ports,
open registration and generous rate limits (servers.TEST_SERVER_SETTINGS). Clients reach the two web processes
through a round-robin TCP balancer (balancer.py), as a deployment puts one in front of them; ``web_processes()``
addresses each web process directly.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.e2e.balancer import RoundRobinBalancer
from tests.e2e.bridge_registration import BridgeRegistration, write_bridge_registration
from tests.e2e.servers import (
    HOST,
    TEST_SERVER_SETTINGS,
    RunningServer,
    ServerProcess,
    _spawn,
    celery_nodes,
    free_port,
    wait_for_celery,
    wait_for_versions,
    xdist_slot,
)
from tests.scheduling import PROCFILE_UNIT, work_unit
from tests.services import pg_database_args, recreate_pg_database

REPO = Path(__file__).resolve().parents[2]
# A dozen processes starting at once on two busy cores: more patience than for one server.
STARTUP_TIMEOUT = 120.0


@dataclass
class WebProcess:
    """One ``ganglion web`` line of the Procfile: its client port and its Prometheus metrics port."""

    name: str
    port: int
    metrics_port: int


@dataclass
class ProcfileDeployment(RunningServer):
    """A RunningServer whose one process is honcho and whose base_url is the balancer in front of the web
    processes; query() reads its PostgreSQL database, restart() restarts the whole Procfile."""

    web: list[WebProcess] = field(default_factory=list)
    balancer: RoundRobinBalancer | None = None
    bridge: BridgeRegistration | None = None
    """The mautrix bridge's registration, in ``app_service_config_files`` from the start; the bridge itself runs
    only while tests/e2e/test_appservice_mautrix.py does (until then transactions to it back off)."""

    def web_processes(self) -> list[RunningServer]:
        """Each web process on its own, for a test that must reach one in particular."""
        return [RunningServer(self.shape, self.directory, self.config_path, web.port) for web in self.web]

    def logs(self) -> str:
        return "\n".join(f"--- {process.name} ---\n{process.log_tail(12000)}" for process in self.processes)

    def restart(self) -> None:
        self._stop_honcho()
        self.processes = [_start_honcho(self.directory)]
        self.wait_until_serving()

    def stop(self) -> None:
        self._stop_honcho()
        if self.balancer is not None:
            self.balancer.close()
            self.balancer = None
        super().stop()

    def wait_until_serving(self) -> None:
        """Until every Celery node of the Procfile's workers answers a ping and every web process serves."""
        wait_for_celery(self, timeout=STARTUP_TIMEOUT, workers=celery_nodes(self.config_path, self._instances()))
        for web in self.web:
            wait_for_versions(self, timeout=STARTUP_TIMEOUT, base_url=f"http://{HOST}:{web.port}")

    def _instances(self) -> list[str]:
        procfile = (self.directory / "Procfile").read_text()
        return re.findall(r"^\w+: ganglion worker (\S+)", procfile, flags=re.MULTILINE)

    def _stop_honcho(self) -> None:
        """SIGTERM to honcho, which stops its processes (SIGKILL after five seconds); then SIGKILL to any process
        group honcho started that outlived it. honcho starts each Procfile line in a session of its own and logs
        its pid; a pid counts as ours only while its process still runs in this deployment's directory, so a
        recycled pid is never touched."""
        for honcho in self.processes:
            started = [int(pid) for pid in re.findall(r"started \(pid=(\d+)\)", honcho.log_tail(10**7))]
            honcho.stop(timeout=30)
            for pid in started:
                with contextlib.suppress(OSError):
                    if Path(f"/proc/{pid}/cwd").resolve() == self.directory.resolve():
                        os.killpg(pid, signal.SIGKILL)


def _copy_deployment(directory: Path, pg_name: str, redis_db: int, bridge: BridgeRegistration
                     ) -> tuple[Path, list[WebProcess]]:
    """Copy Procfile and deploy/ as they are; give the copy its own database, Redis db and free ports, and the
    bridge's registration."""
    shutil.copy(REPO / "Procfile", directory / "Procfile")
    shutil.copytree(REPO / "deploy", directory / "deploy")
    shared = directory / "deploy" / "homeserver.yaml"
    data = yaml.safe_load(shared.read_text())
    data.update({
        "database": {"name": "psycopg2", "args": pg_database_args(pg_name)},
        "redis": {**data["redis"], "dbid": redis_db, "key_prefix": f"{pg_name}:"},
        "app_service_config_files": [str(bridge.path)],
        **TEST_SERVER_SETTINGS,
    })
    shared.write_text(yaml.safe_dump(data, sort_keys=False))
    web = []
    for worker in sorted((directory / "deploy" / "workers").glob("*.yaml")):
        worker_data = yaml.safe_load(worker.read_text())
        ports: dict[str, int] = {}
        for listener in worker_data.get("worker_listeners", []):
            listener["port"] = ports[listener["type"]] = free_port()
        if "http" in ports:
            web.append(WebProcess(worker_data["worker_name"], ports["http"], ports["metrics"]))
        worker.write_text(yaml.safe_dump(worker_data, sort_keys=False))
    return shared, web


def _start_honcho(directory: Path) -> ServerProcess:
    # The Procfile calls `ganglion` by name: the virtualenv's bin directory goes first on PATH.
    bin_directory = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_directory}{os.pathsep}{os.environ.get('PATH', '')}"}
    return _spawn("honcho", (str(bin_directory / "honcho"), "start", "--no-colour", "-f", "Procfile"), directory,
                  env)


def start_procfile(directory: Path, slot: int | None = None) -> ProcfileDeployment:
    """Migrate a fresh database with ``ganglion migrate``, start ``honcho start`` and the balancer, and return
    once every Celery node answers a ping and every web process serves /versions."""
    slot = xdist_slot() if slot is None else slot
    pg_name = f"ganglion_procfile_{os.getpid()}"
    # Seven Redis databases away from the worker-shape servers' (servers.e2e_redis_db) on the same slot.
    redis_db = 14 - (slot + 7) % 14
    recreate_pg_database(pg_name)
    directory.mkdir(parents=True, exist_ok=True)
    bridge = write_bridge_registration(directory)
    shared, web = _copy_deployment(directory, pg_name, redis_db, bridge)
    deployment = ProcfileDeployment("procfile", directory, shared, 0, pg_database=pg_name, redis_db=redis_db,
                                    key_prefix=f"{pg_name}:", web=web, bridge=bridge)
    try:
        migrated = deployment.run_cli("migrate", "--config", str(shared), timeout=120)
        if migrated.returncode != 0:
            raise RuntimeError(f"ganglion migrate failed:\n{migrated.stdout}\n{migrated.stderr}")
        deployment.processes.append(_start_honcho(directory))
        deployment.balancer = RoundRobinBalancer(HOST, [process.port for process in web])
        deployment.port = deployment.balancer.port
        deployment.wait_until_serving()
    except BaseException:
        deployment.stop()
        raise
    return deployment


def uses_procfile(item: pytest.Item) -> bool:
    """Whether a collected test runs against the Procfile deployment: the rule that also keeps all of them in one
    xdist work unit, so the deployment's own count of its tests matches what one worker runs."""
    return work_unit(item.nodeid) == PROCFILE_UNIT


class SharedDeployment:
    """Starts the deployment for the first test that needs it and stops it once every collected test that uses it
    has finished; a test needing it after that (a count gone wrong) starts it again rather than failing."""

    def __init__(self, directory: Path, session: pytest.Session) -> None:
        self._directory = directory
        self._users = sum(1 for item in session.items if uses_procfile(item))
        self._finished = 0
        self._running: ProcfileDeployment | None = None

    def running(self) -> ProcfileDeployment:
        if self._running is None:
            self._running = start_procfile(self._directory / f"run{self._finished}")
        return self._running

    def finished(self, item: pytest.Item) -> None:
        if uses_procfile(item):
            self._finished += 1
            if self._finished >= self._users:
                self.stop()

    def stop(self) -> None:
        if self._running is not None:
            self._running.stop()
            self._running = None
