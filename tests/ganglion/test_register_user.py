"""``ganglion register-user`` without a terminal (scripts, CI, a pipe): everything from flags or stdin, and a
message naming the missing flag instead of an EOFError traceback."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.servers import RunningServer, fresh_localpart, ganglion, start_monolith


def _register(server_config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(ganglion("register-user", "--config", str(server_config), *args), input=stdin,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def monolith(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start_monolith(tmp_path_factory.mktemp("register-user"))
    yield server
    server.stop()


@pytest.mark.e2e
def test_password_from_stdin_registers_an_ordinary_user(monolith: RunningServer) -> None:
    user = fresh_localpart("piped")
    result = _register(monolith.config_path, "-u", user, "--password-stdin", monolith.base_url,
                       stdin="a piped password\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"registered @{user}:localhost"
    login = _login(monolith, user, "a piped password")
    assert login.status_code == 200, login.text


@pytest.mark.e2e
def test_a_piped_password_needs_no_flag_and_admin_comes_from_its_flag(monolith: RunningServer) -> None:
    user = fresh_localpart("admin")
    result = _register(monolith.config_path, "-u", user, "--admin", monolith.base_url, stdin="pw-admin\n")
    assert result.returncode == 0, result.stderr
    assert f"@{user}:localhost" in result.stdout


@pytest.mark.e2e
def test_flags_alone_register_without_reading_stdin(monolith: RunningServer) -> None:
    user = fresh_localpart("flags")
    result = _register(monolith.config_path, "-u", user, "-p", "pw-flags", "--no-admin", monolith.base_url)
    assert result.returncode == 0, result.stderr


def test_a_missing_user_names_the_flag(tmp_path: Path) -> None:
    config = _generated(tmp_path)
    result = _register(config, "-p", "pw")
    assert result.returncode == 2
    assert result.stderr.strip() == "register-user: missing --user (-u) (there is no terminal to ask on)"


def test_an_empty_stdin_names_the_password_flags(tmp_path: Path) -> None:
    config = _generated(tmp_path)
    result = _register(config, "-u", "someone")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == ("register-user: missing password: give --password (-p), or one line on "
                                     "stdin with --password-stdin")


def _generated(tmp_path: Path) -> Path:
    path = tmp_path / "homeserver.yaml"
    subprocess.run(ganglion("generate-config", "--server-name", "localhost", "--config-path", str(path)),
                   capture_output=True, timeout=60, check=True)
    return path


def _login(server: RunningServer, user: str, password: str) -> httpx.Response:
    return httpx.post(f"{server.base_url}/_matrix/client/v3/login", timeout=30, json={
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password})
