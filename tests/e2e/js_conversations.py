"""What the matrix-js-sdk end-to-end tests share: running one of the Node conversations in tests/e2e/js against a
server and reading the one ``RESULT`` line it prints.

The SDK lives in tests/e2e/js (package.json + package-lock.json; scripts/test runs ``npm ci`` there).
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.servers import RunningServer

JS_DIR = Path(__file__).parent / "js"


def _tail(output: str | bytes | None, chars: int) -> str:
    if isinstance(output, bytes):
        output = output.decode(errors="replace")
    return (output or "")[-chars:]


def run_conversation(script: str, server: RunningServer, timeout: float) -> dict[str, Any]:
    """Run ``node script BASE_URL SUFFIX`` (a fresh suffix keeps user names apart) and return the JSON of its
    ``RESULT`` line. A failure, a non-zero exit or a run over ``timeout`` seconds fails the test with the
    script's last words and the server's log tails."""
    node = shutil.which("node")
    assert node is not None, "Node.js is needed for the matrix-js-sdk tests (scripts/test installs the SDK)"
    assert (JS_DIR / "node_modules" / "matrix-js-sdk").is_dir(), "run `npm ci` in tests/e2e/js (scripts/test does)"
    try:
        finished = subprocess.run([node, script, server.base_url, secrets.token_hex(4)], cwd=JS_DIR,
                                  capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"{script} did not finish within {timeout}s:\n{_tail(expired.stderr, 3000)}\n"
                    f"{server.logs()[-2000:]}")
    assert finished.returncode == 0, f"{finished.stderr[-3000:]}\n{server.logs()[-2000:]}"
    [result] = [line for line in finished.stdout.splitlines() if line.startswith("RESULT ")]
    return json.loads(result.removeprefix("RESULT "))  # type: ignore[no-any-return]
