"""The servers the federation benchmarks measure, started side by side on loopback: Ganglion as a SQLite
monolith, a PostgreSQL monolith and a worker deployment (two web processes, a main Celery worker and two
federation senders, as ``tests/e2e/test_federation_synapse.py`` runs it), and a real Synapse from
``bench/synapse_peer.sh``.

Each is named ``localhost:PORT``, trusts the run's CA for its outbound federation (``federation_custom_ca_list``)
and may federate with loopback (``ip_range_whitelist``), so it reaches the scripted peers
(``bench/federation_peer.py``) as it would any server; rate limits, ``rc_federation`` included, are lifted.
Ganglion's processes are started with the end-to-end tests' helpers (``tests/e2e/servers.py``), Synapse with the
interop tests' (``tests/e2e/synapse_peer.py``), so the benchmark runs what the tests run.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.procstat import CpuSample, postgres_backends, process_tree
from tests.e2e.servers import RunningServer, free_port, start_monolith, start_workers
from tests.e2e.synapse_peer import PEER_SCRIPT, SynapsePeer, _spawn, _stop_pid, _wait_for_versions, synapse_venv
from tests.services import drop_pg_database, pg_database_args, recreate_pg_database

TARGETS = ("ganglion-sqlite", "ganglion-postgres", "ganglion-workers", "synapse")
UNLIMITED = {"per_second": 100000, "burst_count": 100000}
RC_FEDERATION = {"window_size": 1000, "sleep_limit": 100000, "sleep_delay": 0, "reject_limit": 100000,
                 "concurrent": 1000}
INSTALL_TIMEOUT = 900.0


@dataclass
class Target:
    """A running server under test: where to reach it, which processes are its, how to stop it."""

    label: str
    port: int
    roots: Callable[[], list[int]]
    stop: Callable[[], None]
    pg_database: str | None = None

    @property
    def server_name(self) -> str:
        return f"localhost:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu(self) -> tuple[CpuSample, CpuSample]:
        """CPU so far of the server's own processes, and of the PostgreSQL backends serving its database."""
        own = CpuSample.take(process_tree(self.roots()))
        backends = CpuSample.take(postgres_backends(self.pg_database) if self.pg_database else [])
        return own, backends


def _ganglion_settings(port: int, ca_path: Path) -> dict[str, Any]:
    return {"port": port, "server_name": f"localhost:{port}", "federation_custom_ca_list": [str(ca_path)],
            "ip_range_whitelist": ["127.0.0.0/8"], "rc_federation": RC_FEDERATION, "rc_message": UNLIMITED,
            "rc_joins": {"local": UNLIMITED, "remote": UNLIMITED}, "rc_joins_per_room": UNLIMITED}


def _ganglion_target(label: str, server: RunningServer) -> Target:
    return Target(label, server.port, lambda: [process.popen.pid for process in server.processes], server.stop,
                  server.pg_database)


def start_ganglion(label: str, directory: Path, ca_path: Path) -> Target:
    port = free_port()
    settings = _ganglion_settings(port, ca_path)
    if label == "ganglion-sqlite":
        return _ganglion_target(label, start_monolith(directory, **settings))
    if label == "ganglion-postgres":
        name = f"ganglion_fedbench_{os.getpid()}_{port}"
        recreate_pg_database(name)
        server = start_monolith(directory, database={"name": "psycopg2", "args": pg_database_args(name)},
                                **settings)
        server.pg_database = name  # dropped when the server stops
        return _ganglion_target(label, server)
    if label == "ganglion-workers":
        server = start_workers(directory, instances=("main", "sender1", "sender2"), web_workers=2,
                               federation_sender_instances=["sender1", "sender2"], send_federation=False,
                               **settings)
        return _ganglion_target(label, server)
    raise ValueError(f"unknown Ganglion target {label!r}")


def start_synapse(directory: Path, ca_path: Path, database: str) -> Target:
    """Synapse configured by the peer script, restarted with the federation settings on top (Synapse merges its
    ``-c`` files), as the interop tests do, plus ``rc_federation`` lifted."""
    port = free_port()
    venv = synapse_venv()
    started = subprocess.run(["bash", str(PEER_SCRIPT), str(directory), str(port), database], capture_output=True,
                             text=True, timeout=INSTALL_TIMEOUT, check=False,
                             env={**os.environ, "SYNAPSE_VENV": str(venv)})
    if started.returncode != 0:
        raise RuntimeError(f"{PEER_SCRIPT} failed:\n{started.stdout}\n{started.stderr}")
    _stop_pid(int(started.stdout.split()[-1]))
    extra = directory / "federation-bench.yaml"
    extra.write_text(yaml.safe_dump({"federation_custom_ca_list": [str(ca_path)],
                                     "ip_range_whitelist": ["127.0.0.0/8"], "rc_federation": RC_FEDERATION}))
    argv = (str(venv / "bin" / "python"), "-m", "synapse.app.homeserver",
            "-c", str(directory / "homeserver.yaml"), "-c", str(extra))
    peer = SynapsePeer(directory, port, _spawn(directory, argv), argv)
    try:
        _wait_for_versions(peer)
    except BaseException:
        peer.stop()
        raise
    pg_database = f"synapse_bench_{port}" if database == "postgres" else None

    def stop() -> None:
        peer.stop()
        if pg_database is not None:
            drop_pg_database(pg_database)

    return Target("synapse", port, lambda: [peer.popen.pid], stop, pg_database)


def start_target(label: str, directory: Path, ca_path: Path, synapse_database: str = "sqlite") -> Target:
    directory.mkdir(parents=True, exist_ok=True)
    if label == "synapse":
        return start_synapse(directory, ca_path, synapse_database)
    return start_ganglion(label, directory, ca_path)
