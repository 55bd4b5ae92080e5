"""Response equivalence with Synapse: the same scripted simplified sliding sync conversation
(tests/e2e/sliding_sync_scenario.py: five rooms of every kind, seven lists with filters and windows, then an
incremental request) against a Ganglion monolith and a real Synapse on loopback, compared with ids, timestamps and
server names left out: the same rooms in the same order, the same list counts, the same required_state, timelines,
names, heroes, member counts and flags.

Marker ``interop``: it needs Synapse installed, so it runs when ``SYNAPSE_VENV`` names a virtualenv
holding ``matrix-synapse``, which bench/synapse_peer.sh then starts (``bench/synapse_peer.sh DIR`` installs one
into ``DIR/venv`` on first use).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.servers import free_port, start_server
from tests.e2e.sliding_sync_scenario import run_scenario

pytestmark = [pytest.mark.e2e, pytest.mark.interop]
PEER_SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "synapse_peer.sh"
UNREAD = ("notification_count", "highlight_count")
"""Synapse's sliding sync sends 0 for these whatever is unread (its handler leaves them as a to-do); Ganglion
counts them, so they are checked against the scenario instead of against Synapse."""


@pytest.fixture(scope="module")
def synapse_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    venv = os.environ.get("SYNAPSE_VENV")
    if not venv or not (Path(venv) / "bin" / "python").exists():
        pytest.skip("set SYNAPSE_VENV to a virtualenv with matrix-synapse to compare with Synapse")
    port = free_port()
    started = subprocess.run(["bash", str(PEER_SCRIPT), str(tmp_path_factory.mktemp("synapse")), str(port),
                              "sqlite"], capture_output=True, text=True, timeout=120, check=True)
    pid = int(started.stdout.split()[-1])
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        os.kill(pid, signal.SIGTERM)


@pytest.fixture(scope="module")
def compared(synapse_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    suffix = secrets.token_hex(3)
    ganglion = start_server("monolith", tmp_path_factory.mktemp("ganglion"))
    try:
        ours = run_scenario(ganglion.base_url, suffix)
    finally:
        ganglion.stop()
    return {"ganglion": ours, "synapse": run_scenario(synapse_url, suffix)}


def _without_unread(normalized: dict[str, Any]) -> dict[str, Any]:
    return {**normalized, "rooms": {label: {key: value for key, value in room.items() if key not in UNREAD}
                                    for label, room in normalized["rooms"].items()}}


@pytest.mark.parametrize("request_name", ["first", "second"])
def test_responses_match_synapses(compared: dict[str, Any], request_name: str) -> None:
    ours, theirs = compared["ganglion"][request_name], compared["synapse"][request_name]
    assert ours["lists"] == theirs["lists"]
    assert ours["order"] == theirs["order"]
    assert _without_unread(ours)["rooms"] == _without_unread(theirs)["rooms"]


def test_unread_counts_are_counted(compared: dict[str, Any]) -> None:
    first, second = compared["ganglion"]["first"]["rooms"], compared["ganglion"]["second"]["rooms"]
    assert first["group"]["notification_count"] == 2, "bob's two messages in a room of two notify"
    assert second["group"]["notification_count"] == 3
    assert first["named"]["notification_count"] == 0, "alice's own message does not"
