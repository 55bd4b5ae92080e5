"""Two ``ganglion beat`` processes: only the lease holder sends the periodic jobs; the other takes over when the
holder stops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import yaml

from tasks.background import SWEEP_TYPING
from tests.homeserver import base_config_data
from tests.services import pg_database_args, redis_client

pytestmark = pytest.mark.workers


@pytest.fixture
def prefix(tmp_path: Path, redis_db: int) -> Iterator[str]:
    prefix = f"test{os.getpid()}:{tmp_path.name}:"
    yield prefix
    client = redis_client(redis_db)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


def _start_beat(config_path: Path, log: str) -> subprocess.Popen[bytes]:
    with open(config_path.parent / log, "ab") as handle:
        return subprocess.Popen([sys.executable, "-m", "ganglion.cli", "beat", "--config", str(config_path)],
                                stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def _senders(client: redis.Redis, prefix: str) -> list[tuple[int, str]]:
    """(pid of the sending process, task name) of every message beat put on the background queue."""
    sent = []
    for raw in client.lrange(f"{prefix}background", 0, -1):
        headers = json.loads(raw)["headers"]
        sent.append((int(headers["origin"].split("@")[0].removeprefix("gen")), headers["task"]))
    return sent


def _wait_for_sends(client: redis.Redis, prefix: str, pid: int, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while sum(1 for sender, task in _senders(client, prefix) if sender == pid and task == SWEEP_TYPING) < count:
        assert time.monotonic() < deadline, f"beat {pid} did not send {count} x {SWEEP_TYPING}"
        time.sleep(0.2)


def test_only_the_lease_holder_schedules_and_the_other_takes_over(
        tmp_path: Path, pg_database_name: str, redis_db: int, prefix: str) -> None:
    config_path = tmp_path / "homeserver.yaml"
    config_path.write_text(yaml.safe_dump({
        **base_config_data(),
        "database": {"name": "psycopg2", "args": pg_database_args(pg_database_name)},
        "redis": {"enabled": True, "host": "127.0.0.1", "port": 6379, "dbid": redis_db, "key_prefix": prefix},
    }))
    client = redis_client(redis_db)
    first = _start_beat(config_path, "first.log")
    second = None
    try:
        deadline = time.monotonic() + 30
        while client.get(f"{prefix}ganglion:test.local:lease:beat") is None:
            assert first.poll() is None and time.monotonic() < deadline, (tmp_path / "first.log").read_text()
            time.sleep(0.1)
        second = _start_beat(config_path, "second.log")
        # sweep_typing is due every 5 s: two rounds of it, and every message came from the first beat.
        _wait_for_sends(client, prefix, first.pid, 2)
        time.sleep(1)
        assert {sender for sender, _task in _senders(client, prefix)} == {first.pid}
        assert second.poll() is None, "the second beat waits, it does not exit"

        first.send_signal(signal.SIGTERM)
        first.wait(timeout=20)
        _wait_for_sends(client, prefix, second.pid, 1)
        assert "holding lease" in (tmp_path / "second.log").read_text()
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
