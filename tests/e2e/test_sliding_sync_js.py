"""matrix-js-sdk's ``SlidingSync`` (npm matrix-js-sdk 37.7, which speaks MSC4186's
``org.matrix.simplified_msc3575``) with the SDK's Rust crypto, against every shape (tests/e2e/js/
sliding_sync_conversation.mjs): a room list windowed to its most recent room shows an invite, the client joins,
receives and decrypts an encrypted message, sees typing and a read receipt, and opens a room outside its window by
subscribing to it. In the Procfile shape the SDK's requests land on several web processes, which continue one
another's connection from the database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.js_conversations import run_conversation
from tests.e2e.servers import E2E_SHAPES, RunningServer, serving

pytestmark = pytest.mark.e2e
CONVERSATION_TIMEOUT = 150


@pytest.fixture(scope="module", params=E2E_SHAPES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with serving(request, tmp_path_factory, "js-sliding") as running:
        yield running


@pytest.fixture(scope="module")
def observed(server: RunningServer) -> dict[str, Any]:
    return run_conversation("sliding_sync_conversation.mjs", server, CONVERSATION_TIMEOUT)


def test_the_room_list_shows_the_invite_within_its_window(observed: dict[str, Any]) -> None:
    assert observed["invitedRoomName"] == "Sliding room"
    assert observed["listCount"] == 2, "the list counts both rooms though its window holds one"
    assert observed["historyRoomListed"] is False, "the room outside the window is not sent"


def test_an_encrypted_message_is_received_and_decrypted(observed: dict[str, Any]) -> None:
    assert observed["encryptedOnTheWire"] is True
    assert observed["decrypted"] == "a secret over sliding sync"


def test_typing_and_read_receipts_arrive_through_the_extensions(observed: dict[str, Any]) -> None:
    assert observed["typing"] is True and observed["receipt"] is True


def test_opening_a_room_subscribes_to_it_and_brings_its_history(observed: dict[str, Any]) -> None:
    assert observed["openedHistory"] == [f"history {number}" for number in range(5)]
    assert observed["openedRoomName"] == "History room"
