"""A real Synapse on loopback as a federation peer, started by the project's peer script (``bench/synapse_peer.sh``,
which the benchmarks use too), for the interoperability tests.

The script installs Synapse into a virtualenv (``SYNAPSE_VENV``; ``scripts/test`` makes ``.venv-synapse`` and names
it, and that is the default here too), writes its config and starts it. That config is for a peer nobody
federates with, so it is started once by the script, stopped, and started again with a second config file on top
(Synapse merges its ``-c`` files) holding what federating with a loopback Ganglion takes:

- ``federation_custom_ca_list``: Synapse's federation client always speaks TLS (its
  ``use_insecure_ssl_client_just_for_testing_do_not_use`` only concerns its other HTTP clients), so Ganglion
  serves its listener over TLS with a certificate for ``localhost`` from a test CA, which Synapse is told to trust;
- ``ip_range_whitelist: [127.0.0.0/8]``: Synapse refuses to federate with loopback addresses otherwise. That
  exception applies to names resolved to loopback addresses only, never to IP literals (Synapse blocks a server
  name that is a blocked IP literal whatever its allow list says), so Ganglion's server name is
  ``localhost:PORT``: an explicit port, so Synapse asks no well-known and no SRV and connects to localhost.

Synapse's server name is ``localhost:PORT`` too (another port) and it serves federation over plain HTTP; Ganglion
reaches it through ``federation_test_hosts``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.e2e.servers import HOST

STARTUP_TIMEOUT = 90.0
INSTALL_TIMEOUT = 900.0


PEER_SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "synapse_peer.sh"
CHECKOUT_VENV = Path(__file__).resolve().parents[2] / ".venv-synapse"


def synapse_venv() -> Path:
    configured = os.environ.get("SYNAPSE_VENV")
    return Path(configured) if configured else CHECKOUT_VENV


@dataclass
class SynapsePeer:
    directory: Path
    port: int
    popen: subprocess.Popen[bytes]
    argv: tuple[str, ...]

    @property
    def server_name(self) -> str:
        return f"localhost:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log_tail(self, chars: int = 6000) -> str:
        texts = []
        for name in ("homeserver.log", "stdout.log"):
            with contextlib.suppress(OSError):
                texts.append(f"--- {name} ---\n{(self.directory / name).read_text(errors='replace')[-chars:]}")
        return "\n".join(texts)

    def kill(self) -> None:
        """SIGKILL: no clean shutdown."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=20)

    def start(self) -> None:
        """Start the same Synapse again on the same database and config, after :meth:`kill` or :meth:`stop`."""
        self.popen = _spawn(self.directory, self.argv)
        try:
            _wait_for_versions(self)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=20)


def _stop_pid(pid: int, timeout: float = 20.0) -> None:
    """Stop the Synapse the script started (not our child: it outlived the script) by its PID."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)


def _wait_for_versions(peer: SynapsePeer) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if peer.popen.poll() is not None:
            raise RuntimeError(f"Synapse exited with {peer.popen.returncode}:\n{peer.log_tail()}")
        try:
            with urllib.request.urlopen(f"{peer.base_url}/_matrix/client/versions", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"Synapse did not answer within {STARTUP_TIMEOUT}s:\n{peer.log_tail()}")


def start_synapse(directory: Path, port: int, trusted_ca: Path) -> SynapsePeer:
    """Install (once) and configure Synapse with the peer script, then run it with the interop settings."""
    venv = synapse_venv()
    venv.parent.mkdir(parents=True, exist_ok=True)
    started = subprocess.run(["bash", str(PEER_SCRIPT), str(directory), str(port)], capture_output=True, text=True,
                             timeout=INSTALL_TIMEOUT, check=False, env={**os.environ, "SYNAPSE_VENV": str(venv)})
    if started.returncode != 0:
        raise RuntimeError(f"{PEER_SCRIPT} failed:\n{started.stdout}\n{started.stderr}")
    _stop_pid(int(started.stdout.split()[-1]))
    interop = directory / "interop.yaml"
    interop.write_text(yaml.safe_dump({
        "federation_custom_ca_list": [str(trusted_ca)],
        "ip_range_whitelist": ["127.0.0.0/8"],
    }))
    argv = (str(venv / "bin" / "python"), "-m", "synapse.app.homeserver",
            "-c", str(directory / "homeserver.yaml"), "-c", str(interop))
    peer = SynapsePeer(directory, port, _spawn(directory, argv), argv)
    try:
        _wait_for_versions(peer)
    except BaseException:
        peer.stop()
        raise
    return peer


def _spawn(directory: Path, argv: tuple[str, ...]) -> subprocess.Popen[bytes]:
    with open(directory / "stdout.log", "ab") as log:
        return subprocess.Popen(list(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=directory, start_new_session=True)
