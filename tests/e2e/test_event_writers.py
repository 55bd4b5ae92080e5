"""Two events writers on real Celery workers: concurrent sends into shared and separate rooms.

DESIGN.md guarantee 1 and the "Concurrency" check of the rooms issue: every event persisted exactly once (txn
retries included), each sender's order kept, each room's DAG a single chain with one forward extremity, and both
writers doing their share.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from config.routing import shard_for
from tests.e2e.servers import RunningServer, query, start_workers

WRITERS = ("persister1", "persister2")
USERS = 4
MESSAGES = 12
LIMIT = {"per_second": 100000, "burst_count": 100000}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> RunningServer:
    running = start_workers(tmp_path_factory.mktemp("writers"), instances=("main", *WRITERS),
                            stream_writers={"events": list(WRITERS)}, rc_message=LIMIT, rc_room_creation=LIMIT)
    yield running  # type: ignore[misc]
    running.stop()


def _register(client: httpx.Client, name: str) -> str:
    body = {"username": name, "password": "pw", "auth": {"type": "m.login.dummy"}}
    response = client.post("/_matrix/client/v3/register", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _send_all(base_url: str, token: str, rooms: list[str], sender_index: int) -> list[str]:
    """One client's sends, in order; every other send is retried with the same txn id, as after a timeout."""
    ids = []
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for index, room in itertools.product(range(MESSAGES), rooms):
            path = f"/_matrix/client/v3/rooms/{room}/send/m.room.message/u{sender_index}m{index}"
            body = {"msgtype": "m.text", "body": f"{sender_index}:{index}"}
            first = client.put(path, json=body)
            assert first.status_code == 200, first.text
            if index % 2:
                assert client.put(path, json=body).json() == first.json()
            ids.append(first.json()["event_id"])
    return ids


@pytest.mark.e2e
def test_concurrent_senders_keep_order_and_linear_rooms_across_two_writers(server: RunningServer) -> None:
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        tokens = [_register(client, f"sender{i}") for i in range(USERS)]
        auth = {"Authorization": f"Bearer {tokens[0]}"}
        # Rooms until both writers own at least one: shared by everybody, plus one of each sender's own.
        shared: list[str] = []
        while {shard_for(WRITERS, room) for room in shared} != set(WRITERS) or len(shared) < 2:
            response = client.post("/_matrix/client/v3/createRoom", json={"preset": "public_chat"}, headers=auth)
            shared.append(response.json()["room_id"])
        for token in tokens[1:]:
            for room in shared:
                joined = client.post(f"/_matrix/client/v3/rooms/{room}/join", json={},
                                     headers={"Authorization": f"Bearer {token}"})
                assert joined.status_code == 200, joined.text

    with ThreadPoolExecutor(USERS) as pool:
        sent = list(pool.map(lambda i: _send_all(server.base_url, tokens[i], shared, i), range(USERS)))

    all_ids = [event_id for ids in sent for event_id in ids]
    assert len(set(all_ids)) == USERS * MESSAGES * len(shared), "each send is one event, retries included"
    for room in shared:
        rows = query(server, "SELECT event_id, stream_ordering, depth, json, instance_name FROM events "
                             "WHERE room_id = :room ORDER BY stream_ordering", room=room)
        messages = [row for row in rows if '"m.room.message"' in row[3]]
        assert len(messages) == USERS * MESSAGES
        assert {row[4] for row in rows} == {shard_for(WRITERS, room)}, "one writer owns the room"
        for sender in range(USERS):
            bodies = [row[3] for row in messages if f'"body":"{sender}:' in row[3]]
            order = [int(body.split(f'"body":"{sender}:')[1].split('"')[0]) for body in bodies]
            assert order == list(range(MESSAGES)), "a sender's messages keep their order"
        depths = [row[2] for row in rows]
        assert depths == list(range(1, len(rows) + 1)), "a single chain: depth grows by one per event"
        extremities = query(server, "SELECT event_id FROM event_forward_extremities WHERE room_id = :room",
                            room=room)
        assert [row[0] for row in extremities] == [rows[-1][0]]
    writers_used = {row[0] for row in query(server, "SELECT DISTINCT instance_name FROM events")}
    assert writers_used == set(WRITERS)


