"""A ``ganglion web`` process (gunicorn, gevent) that served sends stops cleanly: what its app holds is released
while gevent still runs, so nothing is finalised in a dying greenlet ("greenlet is being finalized")."""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from tests.conftest import _data_for
from tests.e2e.servers import free_port

CLIENT = "/_matrix/client/v3"


def _wait_until_serving(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"{base}/_matrix/client/versions", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"ganglion web did not answer:\n{log.read_text()}")


def test_a_web_worker_that_served_sends_exits_without_finalizer_noise(
        pg_database_name: str, redis_db: int, celery_worker: object, tmp_path: Path) -> None:
    port = free_port()
    config = {**_data_for("workers", pg_database_name, redis_db),
              "listeners": [{"port": port, "bind_addresses": ["127.0.0.1"], "type": "http",
                             "resources": [{"names": ["client"]}]}]}
    config_path = tmp_path / "homeserver.yaml"
    config_path.write_text(yaml.safe_dump(config))
    log = tmp_path / "web.log"
    with open(log, "wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "ganglion.cli", "web", "--config", str(config_path),
                                    "--workers", "1"], stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_serving(base, process, log)
        with httpx.Client(base_url=base, timeout=30) as client:
            username = f"exit_{secrets.token_hex(4)}"
            session = client.post(f"{CLIENT}/register", json={"username": username, "password": "pw-exit-test",
                                                               "auth": {"type": "m.login.dummy"}}).json()
            auth = {"Authorization": f"Bearer {session['access_token']}"}
            room_id = client.post(f"{CLIENT}/createRoom", json={}, headers=auth).json()["room_id"]
            for index in range(5):  # each waits on a Celery result
                sent = client.put(f"{CLIENT}/rooms/{room_id}/send/m.room.message/exit{index}",
                                  json={"msgtype": "m.text", "body": "hi"}, headers=auth)
                assert sent.status_code == 200, sent.text
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    output_text = log.read_text()
    assert "Worker exiting" in output_text
    assert "greenlet is being finalized" not in output_text and "Exception ignored" not in output_text, output_text
