"""Real Ganglion server processes for end-to-end tests: the monolith, or the worker shape (web + Celery); the full
Procfile deployment is started by tests/e2e/procfile.py.

Each server gets its own temporary directory (config, signing key, SQLite file, logs), a free loopback port and,
in the worker shape, its own PostgreSQL database and Redis database. Every process is started in a new session
and stopped by its PID (SIGTERM, then SIGKILL to its process group if it lingers); nothing is stopped by name.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text

from tests.services import drop_pg_database, pg_database_args, recreate_pg_database, redis_client, worker_index

HOST = "127.0.0.1"
SERVER_NAME = "localhost"
GENEROUS = {"per_second": 10000, "burst_count": 10000}
# What every test server changes in its config: open registration, cheap password hashing, rate limits that a
# test's bursts never reach.
TEST_SERVER_SETTINGS: dict[str, Any] = {
    "enable_registration": True,
    "enable_registration_without_verification": True,
    "bcrypt_rounds": 4,
    "rc_registration": GENEROUS,
    "rc_login": {"address": GENEROUS, "account": GENEROUS, "failed_attempts": GENEROUS},
    "rc_profile": GENEROUS,
    "rc_message": GENEROUS,
    "rc_room_creation": GENEROUS,
}
STARTUP_TIMEOUT = 60.0
# The shapes the client end-to-end tests run against: "procfile" is the repository's Procfile brought up by honcho,
# one deployment per test session (tests/e2e/conftest.py).
E2E_SHAPES = ("monolith", "workers", "procfile")


def free_port() -> int:
    """A loopback port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def xdist_slot() -> int:
    """0 for a plain pytest run, n+1 on xdist worker gw<n>: keeps parallel runs off each other's databases."""
    return worker_index(os.environ.get("PYTEST_XDIST_WORKER", "master"))


def e2e_redis_db(slot: int) -> int:
    """A Redis database for this slot's worker-shape server: 14 counting down, never 0."""
    return 14 - slot % 14


def ganglion(*args: str) -> list[str]:
    return [sys.executable, "-m", "ganglion.cli", *args]


@dataclass
class ServerProcess:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    argv: tuple[str, ...] = ()

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                # The process leads its own session, so its group id is its PID: this reaches forked children
                # (gunicorn workers) too, and nothing else.
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=timeout)


@dataclass(frozen=True)
class ServerTls:
    """Serve every listener over TLS with this certificate (issued for 127.0.0.1 by ``ca``)."""

    certificate: Path
    private_key: Path
    ca: Path

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))


@dataclass
class RunningServer:
    shape: str
    directory: Path
    config_path: Path
    port: int
    processes: list[ServerProcess] = field(default_factory=list)
    pg_database: str | None = None
    redis_db: int | None = None
    key_prefix: str = ""
    tls: ServerTls | None = None

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{HOST}:{self.port}"

    def config(self) -> dict[str, Any]:
        return yaml.safe_load(self.config_path.read_text())  # type: ignore[no-any-return]

    def logs(self) -> str:
        return "\n".join(f"--- {process.name} ---\n{process.log_tail()}" for process in self.processes)

    def restart(self) -> None:
        """Stop every process and start the same commands again on the same database and config."""
        for process in reversed(self.processes):
            process.stop()
        self.processes = [_spawn(process.name, process.argv, self.directory) for process in self.processes]
        if self.shape == "workers":
            instances = [process.name.removeprefix("worker-") for process in self.processes
                         if process.name.startswith("worker-")]
            wait_for_celery(self, workers=celery_nodes(self.config_path, instances))
        wait_for_versions(self)

    def stop(self) -> None:
        # Web tier first, so nothing enqueues work while the Celery worker shuts down.
        for process in reversed(self.processes):
            process.stop()
        if self.pg_database is not None:
            drop_pg_database(self.pg_database)
        if self.redis_db is not None and self.key_prefix:
            client = redis_client(self.redis_db)
            for key in client.scan_iter(match=f"{self.key_prefix}*"):
                client.delete(key)
            client.close()

    def run_cli(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run a ``ganglion`` admin command against this server's config."""
        return subprocess.run(ganglion(*args), capture_output=True, text=True, timeout=timeout, check=False,
                              cwd=self.directory)


def write_config(directory: Path, port: int, overrides: dict[str, Any]) -> Path:
    """``ganglion generate-config``, then the keys a test server needs layered over it with a YAML round trip."""
    config_path = directory / "homeserver.yaml"
    result = subprocess.run(
        ganglion("generate-config", "--server-name", SERVER_NAME, "--port", str(port),
                 "--config-path", str(config_path), "--data-dir", str(directory / "data")),
        capture_output=True, text=True, timeout=60, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"generate-config failed:\n{result.stdout}\n{result.stderr}")
    data = yaml.safe_load(config_path.read_text())
    data.update({**TEST_SERVER_SETTINGS, **overrides})
    tls: ServerTls | None = data.pop("tls", None)
    if tls is not None:
        for listener in data["listeners"]:
            listener["tls"] = True
        data.update(tls_certificate_path=str(tls.certificate), tls_private_key_path=str(tls.private_key))
    config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    return config_path


def _spawn(name: str, argv: Sequence[str], directory: Path, env: dict[str, str] | None = None) -> ServerProcess:
    log_path = directory / f"{name}.log"
    with open(log_path, "ab") as log:
        popen = subprocess.Popen(list(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 cwd=directory, env=env, start_new_session=True)
    return ServerProcess(name, popen, log_path, tuple(argv))


def wait_for_versions(server: RunningServer, timeout: float = STARTUP_TIMEOUT, base_url: str | None = None) -> None:
    """Poll GET /_matrix/client/versions (on ``base_url``, by default the server's) until it answers 200; fail
    early if a process died."""
    url = f"{base_url or server.base_url}/_matrix/client/versions"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in server.processes:
            if process.popen.poll() is not None:
                raise RuntimeError(f"{process.name} exited with {process.popen.returncode}:\n{server.logs()}")
        try:
            context = server.tls.context() if server.tls else None
            with urllib.request.urlopen(url, timeout=2, context=context) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s:\n{server.logs()}")


def celery_nodes(config_path: Path, instances: Sequence[str]) -> int:
    """How many Celery processes ``ganglion worker`` starts for ``instances``: one per pool (config/pools.py)."""
    from config import load_config
    from config.pools import plan_pools

    routing = load_config([str(config_path)]).routing
    return sum(len(plan_pools(routing, instance, 1)) for instance in instances)


def wait_for_celery(server: RunningServer, timeout: float = STARTUP_TIMEOUT, workers: int = 1) -> None:
    """Wait until ``workers`` Celery worker processes answer a broadcast ping, so tasks are consumed from then
    on."""
    from config import load_config
    from tasks.app import create_celery

    app = create_celery(load_config([str(server.config_path)]))
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for process in server.processes:
                if process.popen.poll() is not None:
                    raise RuntimeError(f"{process.name} exited:\n{server.logs()}")
            if len(app.control.ping(timeout=0.5)) >= workers:
                return
        raise RuntimeError(f"celery worker did not answer pings within {timeout}s:\n{server.logs()}")
    finally:
        app.close()


def start_monolith(directory: Path, *, port: int | None = None, **overrides: Any) -> RunningServer:
    """``ganglion run``: one process, SQLite, inline tasks; on ``port`` when a test must know it beforehand."""
    port = port or free_port()
    config_path = write_config(directory, port, overrides)
    server = RunningServer("monolith", directory, config_path, port, tls=overrides.get("tls"))
    server.processes.append(_spawn("run", ganglion("run", "--config", str(config_path), "--threads", "8"),
                                   directory))
    try:
        wait_for_versions(server)
    except BaseException:
        server.stop()
        raise
    return server


def start_workers(directory: Path, *, port: int | None = None, slot: int | None = None, web_workers: int = 2,
                  instances: Sequence[str] = ("main",), redis_extra: dict[str, Any] | None = None,
                  database_args: dict[str, Any] | None = None, **overrides: Any) -> RunningServer:
    """The worker shape: a fresh PostgreSQL database, a dedicated Redis db, ``ganglion worker NAME`` for each of
    ``instances`` and ``ganglion web``. ``redis_extra`` adds keys to the redis section (another port, a
    visibility timeout); ``database_args`` points at another PostgreSQL (whose database the caller made)."""
    slot = xdist_slot() if slot is None else slot
    port = port or free_port()
    # Named after this process and port: test runs sharing the machine never share a database or Redis keys.
    pg_name = f"ganglion_e2e_{os.getpid()}_{port}"
    redis_db = e2e_redis_db(slot)
    if database_args is None:
        recreate_pg_database(pg_name)
    config_path = write_config(directory, port, {
        "database": {"name": "psycopg2", "args": database_args or pg_database_args(pg_name)},
        "redis": {"enabled": True, "host": "127.0.0.1", "port": 6379, "dbid": redis_db,
                  "key_prefix": f"{pg_name}:", **(redis_extra or {})},
        **overrides,
    })
    shared_redis = "port" not in (redis_extra or {})
    server = RunningServer("workers", directory, config_path, port,
                           pg_database=pg_name if database_args is None else None,
                           redis_db=redis_db if shared_redis else None, key_prefix=f"{pg_name}:",
                           tls=overrides.get("tls"))
    migrated = server.run_cli("migrate", "--config", str(config_path))
    if migrated.returncode != 0:
        raise RuntimeError(f"ganglion migrate failed:\n{migrated.stdout}\n{migrated.stderr}")
    try:
        for instance in instances:
            server.processes.append(_spawn(f"worker-{instance}", ganglion(
                "worker", instance, "--config", str(config_path), "--concurrency", "2"), directory))
        server.processes.append(_spawn("web", ganglion("web", "--config", str(config_path),
                                                       "--workers", str(web_workers), "--threads", "8"),
                                       directory))
        wait_for_celery(server, workers=celery_nodes(config_path, instances))
        wait_for_versions(server)
    except BaseException:
        server.stop()
        raise
    return server


def start_server(shape: str, directory: Path, **overrides: Any) -> RunningServer:
    if shape == "monolith":
        return start_monolith(directory, **overrides)
    if shape == "workers":
        return start_workers(directory, **overrides)
    raise ValueError(f"unknown shape {shape!r}")


@contextmanager
def serving(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
            module: str) -> Iterator[RunningServer]:
    """The body of a module's ``server`` fixture parametrized over E2E_SHAPES: a fresh monolith or worker-shape
    server for the module, or the session's one Procfile deployment, which stays up for the next module."""
    shape = str(request.param)
    if shape == "procfile":
        yield request.getfixturevalue("procfile_deployment").running()
        return
    running = start_server(shape, Path(tmp_path_factory.mktemp(f"{module}-{shape}")))
    try:
        yield running
    finally:
        running.stop()


def fresh_localpart(prefix: str = "e2e") -> str:
    """``prefix`` and a random suffix: modules sharing one server (the Procfile deployment) never meet each
    other's accounts."""
    return f"{prefix}_{secrets.token_hex(6)}"


def query(server: RunningServer, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Read the server's own database: SQLite file for the monolith, its PostgreSQL database for the worker
    shape and the Procfile deployment."""
    database = server.config()["database"]
    if database["name"] == "sqlite3":
        url = f"sqlite:///{database['args']['database']}"
    else:
        args = database["args"]
        url = f"postgresql+psycopg2://{args['user']}@{args['host']}:{args['port']}/{args['dbname']}"
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]
    finally:
        engine.dispose()
