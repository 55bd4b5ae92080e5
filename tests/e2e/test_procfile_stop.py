"""``honcho start`` stops the web processes of the Procfile deployment within its five seconds: they close their idle
keep-alive connections when told to stop (ganglion/http_worker.py), where they used to wait out gunicorn's graceful
timeout until honcho sent SIGKILL. (Celery's warm shutdown of the other processes takes 1-4 s on a loaded 2-core
machine; this test is about the web processes.)"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tests.e2e.procfile import start_procfile
from tests.e2e.servers import HOST


@pytest.mark.e2e
@pytest.mark.workers
def test_honcho_stops_every_process_without_sigkill(tmp_path: Path) -> None:
    deployment = start_procfile(tmp_path / "deployment")
    clients = [httpx.Client(base_url=f"http://{HOST}:{web.port}", timeout=30) for web in deployment.web]
    try:
        for client in clients:  # each leaves an idle keep-alive connection open on its web process
            assert client.get("/_matrix/client/versions").status_code == 200
        honcho = deployment.processes[0]
        honcho.popen.send_signal(signal.SIGTERM)
        honcho.popen.wait(timeout=60)
        log = honcho.log_tail(10**6)
        assert "sending SIGTERM" in log
        web_names = [f"{web.name}.1" for web in deployment.web]
        for name in web_names:
            assert f"{name} stopped" in log
            assert f"sending SIGKILL to {name} " not in log, log[-4000:]
    finally:
        for client in clients:
            client.close()
        deployment.stop()
