"""A web process told to stop closes idle keep-alive connections at once, so it exits within honcho's 5 s
instead of waiting out its graceful timeout; a request in progress still gets its answer."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx

from tests.e2e.servers import ganglion, start_monolith

HONCHO_KILL_WAIT = 5.0


def test_stopping_with_idle_keepalive_connections_exits_promptly(tmp_path: Path) -> None:
    server = start_monolith(tmp_path)
    process = server.processes[0].popen
    try:
        idle_clients = [httpx.Client(base_url=server.base_url, timeout=30) for _ in range(3)]
        for client in idle_clients:  # each leaves one idle HTTP/1.1 connection in the pool
            assert client.get("/_matrix/client/versions").status_code == 200
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        assert time.monotonic() - started < HONCHO_KILL_WAIT, server.logs()
        assert "graceful timeout" not in server.logs()
        for client in idle_clients:
            client.close()
    finally:
        server.stop()


def test_a_request_in_progress_is_answered_before_the_stop(tmp_path: Path) -> None:
    server = start_monolith(tmp_path)
    process = server.processes[0].popen
    try:
        registered = subprocess.run(
            ganglion("register-user", "--config", str(server.config_path), "-u", "poller", "-p", "pw",
                     "--no-admin", server.base_url), capture_output=True, text=True, timeout=60, check=True)
        assert registered.returncode == 0
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            token = client.post("/_matrix/client/v3/login", json={
                "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "poller"},
                "password": "pw"}).json()["access_token"]
            since = client.get("/_matrix/client/v3/sync", params={"timeout": 0},
                               headers={"Authorization": f"Bearer {token}"}).json()["next_batch"]
            answers: list[int] = []

            def long_poll() -> None:
                answers.append(client.get("/_matrix/client/v3/sync", params={"since": since, "timeout": 2000},
                                          headers={"Authorization": f"Bearer {token}"}).status_code)

            poller = threading.Thread(target=long_poll)
            poller.start()
            time.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            poller.join(timeout=30)
        assert answers == [200]
        process.wait(timeout=30)
    finally:
        server.stop()
