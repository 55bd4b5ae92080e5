"""Backfilling over federation: a client paging ``/messages`` back past the join of a room this server joined over
federation gets the room's history from a resident server (``GET /backfill``), stored by the room's events writer
under negative stream orderings, so ``/sync`` tokens and their ranges are unaffected. The server under test runs in
both shapes; ``remote.test`` is a real second Ganglion over loopback HTTP, with signed requests both ways."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import HomeserverFactory
from tests.homeserver import SERVER_NAME, HomeserverUnderTest
from tests.web.federation_pair import REMOTE, Pair, federating_pair

V3 = "/_matrix/client/v3"
MESSAGES = 15


@pytest.fixture
def pair(make_homeserver: HomeserverFactory, tmp_path: Path, sqlite_template: Path) -> Iterator[Pair]:
    with federating_pair(make_homeserver, tmp_path, sqlite_template) as built:
        yield built


def _remote_room_with_history(remote: HomeserverUnderTest) -> str:
    bob = remote.register("bob")["access_token"]
    room_id: str = remote.post(f"{V3}/createRoom", token=bob, json={"preset": "public_chat"}).json["room_id"]
    for number in range(1, MESSAGES + 1):
        sent = remote.put(f"{V3}/rooms/{quote(room_id)}/send/m.room.message/t{number}", token=bob,
                          json={"msgtype": "m.text", "body": f"message {number}"})
        assert sent.status_code == 200, sent.json
    return room_id


def _join(local: HomeserverUnderTest, room_id: str) -> tuple[str, str]:
    """Alice joins the remote room; answers her token and the ``next_batch`` of a ``/sync`` once the join shows."""
    alice = local.register("alice")["access_token"]
    joined = local.post(f"{V3}/join/{quote(room_id)}?server_name={REMOTE}", token=alice, json={})
    assert joined.status_code == 200, joined.json

    def synced() -> str | None:
        body = local.get(f"{V3}/sync", token=alice).json
        return body["next_batch"] if room_id in body.get("rooms", {}).get("join", {}) else None

    return alice, local.eventually(synced)


def _page(local: HomeserverUnderTest, token: str, room_id: str, limit: int, start: str | None) -> dict[str, Any]:
    query = f"dir=b&limit={limit}" + (f"&from={quote(start)}" if start else "")
    response = local.get(f"{V3}/rooms/{quote(room_id)}/messages?{query}", token=token)
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json
    return body


def _backfill_requests(pair: Pair) -> int:
    return sum(1 for path in pair.remote_app.paths if path.startswith("/_matrix/federation/v1/backfill/"))


def test_paging_back_past_the_join_backfills_the_rooms_history_from_a_resident(pair: Pair) -> None:
    local = pair.local
    room_id = _remote_room_with_history(pair.remote)
    alice, next_batch = _join(local, room_id)
    assert _backfill_requests(pair) == 0, "joining asks for no history"

    seen: list[dict[str, Any]] = []
    start: str | None = None
    while True:
        body = _page(local, alice, room_id, 4, start)
        seen += body["chunk"]
        if "end" not in body:
            break
        start = body["end"]
    assert seen[0]["type"] == "m.room.member" and seen[0]["state_key"].startswith("@alice:")
    assert seen[-1]["type"] == "m.room.create", "the walk reaches the start of the room"
    bodies = [event["content"]["body"] for event in seen if event["type"] == "m.room.message"]
    assert bodies == [f"message {number}" for number in range(MESSAGES, 0, -1)]
    assert len({event["event_id"] for event in seen}) == len(seen), "no event twice across pages"
    assert _backfill_requests(pair) == 1, "one backfill brought the whole history; the later pages read it"

    with local.deps.database.read() as conn:
        orderings = {event_id: stored.stream_ordering for event_id, stored in local.deps.stores.events.get_events(
            conn, [event["event_id"] for event in seen]).items()}
    history = [orderings[event["event_id"]] for event in seen[1:]]
    assert all(ordering < 0 for ordering in history), "history sorts before every live event"
    assert history == sorted(history, reverse=True), "and in stream order as in time (seen runs newest first)"
    assert orderings[seen[0]["event_id"]] > 0

    later = local.get(f"{V3}/sync?since={quote(next_batch)}&timeout=0", token=alice).json
    assert room_id not in later.get("rooms", {}).get("join", {}), "backfilled history is no /sync news"
    assert _page(local, alice, room_id, 40, None)["chunk"] == seen, "read again: the same history, no new request"
    assert _backfill_requests(pair) == 1


def test_a_room_with_its_whole_history_here_asks_no_one(pair: Pair) -> None:
    local, remote = pair.local, pair.remote
    alice = local.register("alice")["access_token"]
    room_id = local.post(f"{V3}/createRoom", token=alice, json={"preset": "public_chat"}).json["room_id"]
    bob = remote.register("bob")["access_token"]
    joined = remote.post(f"{V3}/join/{quote(room_id)}?server_name={SERVER_NAME}", token=bob, json={})
    assert joined.status_code == 200, joined.json
    body = _page(local, alice, room_id, 50, None)
    assert body["chunk"][-1]["type"] == "m.room.create"
    after = _page(local, alice, room_id, 50, body["end"])  # as Synapse: the page past the create is the end
    assert after["chunk"] == [] and "end" not in after
    assert _backfill_requests(pair) == 0


def _tampering(target: Callable[..., Any], tamper: Callable[[dict[str, Any]], None]) -> Callable[..., Any]:
    """A WSGI app in front of ``target`` that hands each ``/backfill`` answer to ``tamper`` before sending it."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not str(environ.get("PATH_INFO", "")).startswith("/_matrix/federation/v1/backfill/"):
            return target(environ, start_response)
        captured: dict[str, Any] = {}

        def keep(status: str, headers: list[tuple[str, str]], *rest: Any) -> None:
            captured["status"], captured["headers"] = status, headers

        body = json.loads(b"".join(target(environ, keep)))
        tamper(body)
        encoded = json.dumps(body).encode()
        headers = [(name, value) for name, value in captured["headers"] if name.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(encoded)))])
        return [encoded]

    return app


def test_history_failing_its_checks_is_dropped_or_redacted_as_for_send(pair: Pair) -> None:
    local = pair.local
    room_id = _remote_room_with_history(pair.remote)
    alice, _ = _join(local, room_id)

    def forge(body: dict[str, Any]) -> None:
        for pdu in body["pdus"]:
            if pdu.get("content", {}).get("body") == "message 15":
                pdu["signatures"] = {}  # unsigned: check 2 drops it
            elif pdu.get("content", {}).get("body") == "message 14":
                pdu["content"]["body"] = "altered"  # its content hash no longer matches: check 3 redacts it

    def bodies(chunk: list[dict[str, Any]]) -> list[str | None]:
        return [event["content"].get("body") for event in chunk if event["type"] == "m.room.message"]

    pair.remote_app.target = _tampering(pair.remote.app, forge)
    first = _page(local, alice, room_id, 50, None)["chunk"]
    assert _backfill_requests(pair) == 1
    assert bodies(first) == [None, *(f"message {number}" for number in range(13, 0, -1))]
    with local.deps.database.read() as conn:
        extremities = local.deps.stores.event_graph.list_backward_extremities(conn, room_id, before=None, limit=5)
    assert len(extremities) == 1, "the dropped event is still a gap, for a later backfill to fill"
    pair.remote_app.target = pair.remote.app
    again = _page(local, alice, room_id, 50, None)["chunk"]
    assert _backfill_requests(pair) == 2
    assert bodies(again) == ["message 15", None, *(f"message {number}" for number in range(13, 0, -1))]
