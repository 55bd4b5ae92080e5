"""Every start-up failure is one line on stderr that names the config key and what to do, a non-zero exit, and no
traceback unless ``--debug``; unreachable services are reported at once, with their host:port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.servers import free_port

FAIL_FAST_SECONDS = 10
"""Well under the old behaviour's retries; each run also pays the interpreter's imports."""


def _config(tmp_path: Path, **overrides: Any) -> Path:
    path = tmp_path / "homeserver.yaml"
    generated = subprocess.run([sys.executable, "-m", "ganglion.cli", "generate-config", "--server-name",
                                "localhost", "--port", str(free_port()), "--config-path", str(path)],
                               capture_output=True, text=True, timeout=60, check=True)
    assert generated.returncode == 0
    data = yaml.safe_load(path.read_text())
    data.update(overrides)
    path.write_text(yaml.safe_dump(data))
    return path


def _start(command: str, path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "ganglion.cli", command, "--config", str(path), *extra],
                            capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)
    return result, time.monotonic() - started


def _assert_one_clear_line(result: subprocess.CompletedProcess[str], elapsed: float, *fragments: str) -> None:
    assert result.returncode != 0
    assert elapsed < FAIL_FAST_SECONDS
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("cannot start: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def _unused_port() -> int:
    return free_port()  # bound and released at once: nothing listens there


def test_unreachable_postgresql_names_the_key_and_host_port(tmp_path: Path) -> None:
    port = _unused_port()
    path = _config(tmp_path, database={"name": "psycopg2", "args": {
        "user": "postgres", "dbname": "ganglion", "host": "127.0.0.1", "port": port}})
    result, elapsed = _start("run", path)
    _assert_one_clear_line(result, elapsed, "database.args", f"127.0.0.1:{port}", "start PostgreSQL")


def test_unreachable_redis_names_the_key_and_host_port(tmp_path: Path) -> None:
    port = _unused_port()
    path = _config(tmp_path, redis={"enabled": True, "host": "127.0.0.1", "port": port})
    result, elapsed = _start("web", path)
    _assert_one_clear_line(result, elapsed, "redis", f"127.0.0.1:{port}", "start Redis")


def test_a_port_in_use_names_the_listener(tmp_path: Path) -> None:
    path = _config(tmp_path)
    port = yaml.safe_load(path.read_text())["listeners"][0]["port"]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result, elapsed = _start("run", path)
    _assert_one_clear_line(result, elapsed, "listeners[0].port", f"127.0.0.1:{port} is already in use")


def test_a_bad_signing_key_names_the_key_file(tmp_path: Path) -> None:
    key = tmp_path / "broken.signing.key"
    key.write_text("not a key\n")
    path = _config(tmp_path, signing_key_path=str(key))
    result, elapsed = _start("run", path)
    _assert_one_clear_line(result, elapsed, "signing_key_path", str(key), "restore the file")


@pytest.mark.parametrize("key", ["media_store_path", "database"])
def test_an_unwritable_directory_names_its_key(tmp_path: Path, key: str) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("a file where a directory should be")
    where = blocked / "data"
    overrides: dict[str, Any] = (
        {"media_store_path": str(where)} if key == "media_store_path"
        else {"database": {"name": "sqlite3", "args": {"database": str(where / "homeserver.db")}}})
    path = _config(tmp_path, **overrides)
    result, elapsed = _start("run", path)
    expected_key = "media_store_path" if key == "media_store_path" else "database.args.database"
    _assert_one_clear_line(result, elapsed, expected_key, str(where), "make it writable")


def test_debug_adds_the_traceback(tmp_path: Path) -> None:
    port = _unused_port()
    path = _config(tmp_path, redis={"enabled": True, "host": "127.0.0.1", "port": port})
    result, _elapsed = _start("beat", path, "--debug")
    assert result.returncode != 0
    assert "Traceback" in result.stderr and f"127.0.0.1:{port}" in result.stderr
