"""`ganglion run` on a fresh directory: it writes a config and a key, migrates SQLite, and serves."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from config import load_config
from tests.e2e.servers import RunningServer, _spawn, free_port, ganglion, wait_for_versions


@pytest.mark.e2e
def test_first_run_generates_config_and_serves(tmp_path: Path) -> None:
    port = free_port()
    server = RunningServer("monolith", tmp_path, tmp_path / "homeserver.yaml", port)
    server.processes.append(_spawn("run", ganglion("run", "--port", str(port), "--threads", "4"), tmp_path))
    try:
        wait_for_versions(server)
        config = load_config([str(tmp_path / "homeserver.yaml")])
        assert config.server_name == "localhost"
        assert config.database.is_sqlite and (tmp_path / "homeserver.db").exists()
        assert Path(config.signing_key_path).exists()
        assert config.http_listeners[0].bind == [f"127.0.0.1:{port}"]
        assert yaml.safe_load((tmp_path / "homeserver.yaml").read_text())["enable_registration"] is False
        # The shared secret it generated lets an admin create the first account straight away.
        created = server.run_cli("register-user", "-u", "first", "-p", "pw", "--admin",
                                 f"http://127.0.0.1:{port}")
        assert created.returncode == 0, created.stderr
        assert "registered @first:localhost" in created.stdout
    finally:
        server.stop()
