"""matrix-js-sdk (from npm) runs its own sync loop against both shapes: two clients see each other's invite,
join, messages (local echo confirmed through the transaction id), typing, read receipts, account data and
to-device messages (tests/e2e/js/sync_conversation.mjs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.js_conversations import run_conversation
from tests.e2e.servers import RunningServer, start_server

pytestmark = pytest.mark.e2e
CONVERSATION_TIMEOUT = 120


@pytest.fixture(scope="module", params=["monolith", "workers"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(request.param, Path(tmp_path_factory.mktemp(f"js-{request.param}")))
    yield running
    running.stop()


def test_matrix_js_sdk_clients_sync_with_each_other(server: RunningServer) -> None:
    observed = run_conversation("sync_conversation.mjs", server, CONVERSATION_TIMEOUT)
    assert observed["invitedRoomName"] == "JS room"
    assert observed["bobTimeline"][-2:] == ["hello from js", "hello back"]
    assert observed["aliceTimeline"][-2:] == ["hello from js", "hello back"]
    assert observed["typing"] is True and observed["receipt"] is True
    assert observed["accountData"] is True
    assert observed["toDevice"] == [{"n": 1}]
