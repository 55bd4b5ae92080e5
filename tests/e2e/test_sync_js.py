"""matrix-js-sdk (from npm) runs its own sync loop against every shape: two clients see each other's invite,
join, messages (local echo confirmed through the transaction id), typing, read receipts, account data and
to-device messages.

The SDK lives in tests/e2e/js (package.json + package-lock.json; scripts/test runs ``npm ci`` there).
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.servers import E2E_SHAPES, RunningServer, serving

pytestmark = pytest.mark.e2e
JS_DIR = Path(__file__).parent / "js"
CONVERSATION_TIMEOUT = 120


@pytest.fixture(scope="module", params=E2E_SHAPES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with serving(request, tmp_path_factory, "js") as running:
        yield running


def test_matrix_js_sdk_clients_sync_with_each_other(server: RunningServer) -> None:
    node = shutil.which("node")
    assert node is not None, "Node.js is needed for the matrix-js-sdk tests (scripts/test installs the SDK)"
    assert (JS_DIR / "node_modules" / "matrix-js-sdk").is_dir(), "run `npm ci` in tests/e2e/js (scripts/test does)"
    finished = subprocess.run([node, "sync_conversation.mjs", server.base_url, secrets.token_hex(4)], cwd=JS_DIR,
                              capture_output=True, text=True, timeout=CONVERSATION_TIMEOUT)
    assert finished.returncode == 0, f"{finished.stderr[-3000:]}\n{server.logs()[-2000:]}"
    [result] = [line for line in finished.stdout.splitlines() if line.startswith("RESULT ")]
    observed = json.loads(result.removeprefix("RESULT "))
    assert observed["invitedRoomName"] == "JS room"
    assert observed["bobTimeline"][-2:] == ["hello from js", "hello back"]
    assert observed["aliceTimeline"][-2:] == ["hello from js", "hello back"]
    assert observed["typing"] is True and observed["receipt"] is True
    assert observed["accountData"] is True
    assert observed["toDevice"] == [{"n": 1}]
