"""A newcomer's first hour, on a fresh clone: the repository stands on its own (no link leaves it), the README's first
command installs and starts a server that answers, and the block it prints says truthfully where everything is and
how to make the first account (the printed command works as printed).

The clone is of the repository at HEAD (committed work only), into a temporary folder with nothing beside it.
pip's own cache is reused, so the install costs about a minute on CI, not a download of every dependency.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.servers import free_port

REPOSITORY = Path(__file__).resolve().parents[2]
FIRST_RUN_TIMEOUT = 600.0
"""A first install from pip's cache takes about a minute; a loaded 2-core CI machine several times that."""
DOCUMENTS = ("README.md", "bench/README.md", "docs")
MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)[^)]*\)")


def _documents(root: Path) -> list[Path]:
    found = []
    for name in DOCUMENTS:
        path = root / name
        found.extend(sorted(path.rglob("*.md")) if path.is_dir() else [path])
    return found


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    destination = tmp_path_factory.mktemp("fresh-clone") / "ganglion"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPOSITORY), str(destination)],
                   check=True, timeout=120, capture_output=True)
    return destination


def test_no_document_links_outside_the_repository(clone: Path) -> None:
    documents = _documents(clone)
    assert clone / "docs" / "architecture.md" in documents
    for document in documents:
        text = document.read_text()
        assert "../shared" not in text, f"{document.relative_to(clone)} refers to ../shared"
        for target in MARKDOWN_LINK.findall(text):
            assert "://" not in target and not target.startswith("mailto:"), (document, target)
            path = target.split("#", 1)[0]
            if not path:
                continue  # an anchor in the same document
            resolved = (document.parent / path).resolve()
            assert resolved.is_relative_to(clone), (document, target)
            assert resolved.exists(), f"{document.relative_to(clone)} links to missing {target}"


class FirstRun:
    """``scripts/run`` in the clone, its stdout read as it comes (the install's progress dots end no line, so
    reads are by chunk: the deadline holds even while a line is still being written)."""

    def __init__(self, clone: Path, port: int, logs: Path) -> None:
        self.output: list[str] = []
        self.stderr_path = logs / f"first-run-{port}.stderr"  # a file: a full pipe would stall the server
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(["scripts/run", "--port", str(port)], cwd=clone,
                                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
                                            start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def read_until(self, marker: str, timeout: float) -> None:
        """Until the block that starts with ``marker`` has ended (with an empty line)."""
        assert self.process.stdout is not None
        descriptor = self.process.stdout.fileno()
        partial = ""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not select.select([descriptor], [], [], 1.0)[0]:
                continue
            chunk = os.read(descriptor, 65536)
            if not chunk:
                break
            *lines, partial = (partial + chunk.decode(errors="replace")).split("\n")
            self.output.extend(lines)
            starts = [index for index, line in enumerate(self.output) if marker in line]
            if starts and "" in self.output[starts[0]:]:
                return
        raise AssertionError(f"no {marker!r} within {timeout}s; stdout:\n" + "\n".join([*self.output, partial])
                             + f"\nstderr:\n{self.stop()}")

    def stop(self) -> str:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        return self.stderr_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def first_run(clone: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirstRun]:
    run = _start_first_run(clone, tmp_path_factory.mktemp("first-run-logs"))
    try:
        yield run
    finally:
        run.stop()


def _start_first_run(clone: Path, logs: Path) -> FirstRun:
    """``scripts/run`` until its block is printed. A port found free can be taken by another test's server before
    Ganglion binds it (the machine is shared): then the run says so in one line and is tried once more on another
    port, from a clean slate (the first config named the taken port)."""
    run = FirstRun(clone, free_port(), logs)
    try:
        run.read_until("Ganglion is running at", FIRST_RUN_TIMEOUT)
        return run
    except AssertionError as failure:
        if "is already in use" not in str(failure):
            raise
    for generated in ("homeserver.yaml", "homeserver.db", "localhost.signing.key"):
        (clone / generated).unlink(missing_ok=True)
    retry = FirstRun(clone, free_port(), logs)
    retry.output = run.output  # the install's lines were printed by the first attempt
    retry.read_until("Ganglion is running at", FIRST_RUN_TIMEOUT)
    return retry


def _block_value(run: FirstRun, label: str) -> str:
    line = next(line for line in run.output if line.strip().startswith(label))
    return line.split(label, 1)[1].strip()


@pytest.mark.e2e
def test_the_first_install_prints_progress_not_pip_output(first_run: FirstRun) -> None:
    before_block = first_run.output[:first_run.output.index("")] if "" in first_run.output else first_run.output
    assert before_block[0].startswith("Installing Ganglion into ./.venv")
    assert not any(word in line for line in before_block for word in ("Collecting", "WARNING", "Requirement"))
    assert len(before_block) <= 3, before_block


@pytest.mark.e2e
def test_the_server_answers_where_the_block_says(first_run: FirstRun, clone: Path) -> None:
    url = re.search(r"running at (\S+)", "\n".join(first_run.output))
    assert url is not None
    versions = httpx.get(f"{url.group(1)}/_matrix/client/versions", timeout=10)
    assert versions.status_code == 200 and "v1.1" in versions.json()["versions"]
    assert _block_value(first_run, "config:") == str(clone / "homeserver.yaml")
    assert _block_value(first_run, "database:") == f"{clone / 'homeserver.db'} (SQLite)"
    assert (clone / "homeserver.db").exists()
    assert "enable_registration: true" in "\n".join(first_run.output)


@pytest.mark.e2e
def test_the_printed_register_command_creates_an_admin_who_can_log_in(first_run: FirstRun,
                                                                      tmp_path: Path) -> None:
    output = "\n".join(first_run.output)
    command = next(line.strip() for line in first_run.output if "register-user" in line)
    url = re.search(r"running at (\S+)", output)
    assert url is not None
    # Run from another directory, as a newcomer's second terminal would be.
    registered = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True,
                                timeout=120, check=False)
    assert registered.returncode == 0, registered.stderr
    assert registered.stdout.strip() == "registered @admin:localhost"
    password = re.search(r"echo '([^']*)'", command)
    assert password is not None
    login = httpx.post(f"{url.group(1)}/_matrix/client/v3/login", timeout=30, json={
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "admin"},
        "password": password.group(1)})
    assert login.status_code == 200, login.text
