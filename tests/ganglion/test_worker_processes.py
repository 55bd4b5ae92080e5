"""``ganglion worker NAME`` runs one Celery process per pool; a second copy of an instance waits for its lease, and
killing the supervisor by PID leaves no child consuming its queues."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from config import load_config
from tasks.app import create_celery
from tasks.background import SWEEP_OUTBOX
from tasks.envelope import signed_options
from tests.e2e.servers import free_port
from tests.homeserver import base_config_data
from tests.services import pg_database_args

pytestmark = pytest.mark.workers


@pytest.fixture
def config_path(tmp_path: Path, pg_database_name: str, redis_db: int) -> Path:
    """The session's database, but a Redis key prefix of this test's own: its queues and leases are private."""
    path = tmp_path / "homeserver.yaml"
    path.write_text(yaml.safe_dump({
        **base_config_data(),
        "database": {"name": "psycopg2", "args": pg_database_args(pg_database_name)},
        "redis": {"enabled": True, "host": "127.0.0.1", "port": 6379, "dbid": redis_db,
                  "key_prefix": f"test{os.getpid()}:{tmp_path.name}:"},
        "stream_writers": {"events": ["persister1"]},
    }))
    return path


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for popen in started:
        if popen.poll() is None:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.wait(timeout=10)


def _start(spawned: list[subprocess.Popen[bytes]], config_path: Path, name: str, log: str) -> subprocess.Popen[bytes]:
    with open(config_path.parent / log, "ab") as handle:
        popen = subprocess.Popen([sys.executable, "-m", "ganglion.cli", "worker", name, "--config", str(config_path),
                                  "--concurrency", "2"], stdout=handle, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    spawned.append(popen)
    return popen


def _nodes(config_path: Path) -> list[str]:
    app = create_celery(load_config([str(config_path)]))
    try:
        return sorted(name.split("@")[0] for reply in app.control.ping(timeout=1.0) for name in reply)
    finally:
        app.close()


def _wait_for_nodes(config_path: Path, expected: list[str], process: subprocess.Popen[bytes],
                    timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (nodes := _nodes(config_path)) != expected:
        assert process.poll() is None, f"exited with {process.returncode}"
        assert time.monotonic() < deadline, f"nodes {nodes}, expected {expected}"
        time.sleep(0.2)


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_main_runs_an_ordered_and_a_concurrent_pool_and_dies_whole(
        config_path: Path, spawn: list[subprocess.Popen[bytes]]) -> None:
    supervisor = _start(spawn, config_path, "main", "main.log")
    _wait_for_nodes(config_path, ["main", "main.concurrent"], supervisor)
    children = _children(supervisor.pid)
    assert len(children) == 2
    os.kill(supervisor.pid, signal.SIGKILL)  # the supervisor alone, not its group
    supervisor.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(_alive(child) for child in children):
        assert time.monotonic() < deadline, "a pool outlived its supervisor"
        time.sleep(0.1)


def test_a_second_copy_of_a_writer_waits_for_the_lease(
        config_path: Path, spawn: list[subprocess.Popen[bytes]]) -> None:
    first = _start(spawn, config_path, "persister1", "first.log")
    _wait_for_nodes(config_path, ["persister1"], first)
    second = _start(spawn, config_path, "persister1", "second.log")
    time.sleep(4)
    assert _nodes(config_path) == ["persister1"], "one consumer of events.persister1, not two"
    assert second.poll() is None, "the second copy waits"
    first.send_signal(signal.SIGTERM)
    first.wait(timeout=30)
    _wait_for_nodes(config_path, ["persister1"], second, timeout=30)
    assert second.poll() is None
    assert "holding lease" in (config_path.parent / "second.log").read_text()


def test_an_instance_serves_its_pools_task_metrics_and_queue_depths_on_its_metrics_listener(
        config_path: Path, spawn: list[subprocess.Popen[bytes]]) -> None:
    port = free_port()
    data = yaml.safe_load(config_path.read_text())
    data.update({"enable_metrics": True,
                 "worker_listeners": [{"type": "metrics", "port": port, "bind_address": "127.0.0.1"}]})
    config_path.write_text(yaml.safe_dump(data))
    supervisor = _start(spawn, config_path, "main", "main.log")
    _wait_for_nodes(config_path, ["main", "main.concurrent"], supervisor)
    config = load_config([str(config_path)])
    app = create_celery(config)
    try:
        app.send_task(SWEEP_OUTBOX, kwargs={}, queue="background",
                      **signed_options(config.workers.replication_secret, SWEEP_OUTBOX, {}))
    finally:
        app.close()
    done = f'ganglion_tasks_total{{queue="background",state="SUCCESS",task="{SWEEP_OUTBOX}"}} 1.0'
    deadline = time.monotonic() + 30
    while done not in (text := httpx.get(f"http://127.0.0.1:{port}/metrics").text):
        assert time.monotonic() < deadline, text[-3000:]
        time.sleep(0.3)
    assert f'ganglion_task_duration_seconds_count{{queue="background",task="{SWEEP_OUTBOX}"}} 1.0' in text
    assert 'ganglion_queue_depth{queue="events.persister1"} 0.0' in text
