"""matrix-js-sdk (from npm) uploads with its own ``uploadContent`` and downloads over the authenticated media path
it builds, against every shape: the bytes come back identical (tests/e2e/js/media_conversation.mjs)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.js_conversations import run_conversation
from tests.e2e.servers import E2E_SHAPES, RunningServer, serving

pytestmark = pytest.mark.e2e
CONVERSATION_TIMEOUT = 120


@pytest.fixture(scope="module", params=E2E_SHAPES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with serving(request, tmp_path_factory, "js-media") as running:
        yield running


def test_matrix_js_sdk_uploads_and_downloads_byte_identical(server: RunningServer) -> None:
    observed = run_conversation("media_conversation.mjs", server, CONVERSATION_TIMEOUT)
    assert observed["contentUri"].startswith("mxc://")
    assert observed["uploadSize"] == 50 * 1024 * 1024
    assert observed["downloadPath"].startswith("/_matrix/client/v1/media/download/")
    assert observed["status"] == 200
    assert observed["contentDisposition"] == "attachment; filename=random.bin"
    assert observed["identical"] is True
