"""matrix-js-sdk (from npm) runs its own sync loop against every shape: two clients see each other's invite,
join, messages (local echo confirmed through the transaction id), typing, read receipts, account data and
to-device messages (tests/e2e/js/sync_conversation.mjs)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.js_conversations import run_conversation
from tests.e2e.servers import E2E_SHAPES, RunningServer, serving

pytestmark = pytest.mark.e2e
CONVERSATION_TIMEOUT = 120


@pytest.fixture(scope="module", params=E2E_SHAPES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with serving(request, tmp_path_factory, "js") as running:
        yield running


def test_matrix_js_sdk_clients_sync_with_each_other(server: RunningServer) -> None:
    observed = run_conversation("sync_conversation.mjs", server, CONVERSATION_TIMEOUT)
    assert observed["invitedRoomName"] == "JS room"
    assert observed["bobTimeline"][-2:] == ["hello from js", "hello back"]
    assert observed["aliceTimeline"][-2:] == ["hello from js", "hello back"]
    assert observed["typing"] is True and observed["receipt"] is True
    assert observed["accountData"] is True
    assert observed["toDevice"] == [{"n": 1}]
