"""Two events writers on real Celery workers: concurrent sends into shared and separate rooms.

DESIGN.md guarantee 1 and the "Concurrency" check of the rooms issue: every event persisted exactly once (txn
retries included), each sender's order kept, each room's DAG a single chain with one forward extremity, and both
writers doing their share. Guarantee 4 too: clients syncing all the while see every event once, in order.
"""

from __future__ import annotations

import itertools
import json
import threading
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




READERS = 3


def _read_until(base_url: str, token: str, ready: threading.Barrier, done: threading.Event,
                seen: list[tuple[str, str]], limited: list[bool]) -> None:
    """One client's sync loop: incremental syncs from its own tokens until the senders are done and a last
    sync brings nothing new; records (room, event id) of every message in the order they arrived."""
    wide_filter = json.dumps({"room": {"timeline": {"limit": 1000}}})
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        since = client.get("/_matrix/client/v3/sync", params={"filter": wide_filter}).json()["next_batch"]
        ready.wait(timeout=60)  # every reader holds its first token before the first message is sent
        quiet_after_done = False
        while not quiet_after_done:
            finished = done.is_set()
            body = client.get("/_matrix/client/v3/sync", params={
                "since": since, "timeout": 0 if finished else 500, "filter": wide_filter}).json()
            new = [(room, event["event_id"]) for room, section in body["rooms"]["join"].items()
                   for event in section["timeline"]["events"] if event["type"] == "m.room.message"]
            limited.extend(section["timeline"]["limited"] for section in body["rooms"]["join"].values())
            seen.extend(new)
            since = body["next_batch"]
            quiet_after_done = finished and not new


@pytest.mark.e2e
def test_incremental_syncs_see_every_event_once_in_order_while_two_writers_commit(server: RunningServer) -> None:
    """DESIGN.md guarantee 4: readers syncing all along, while two writers commit out of order with each
    other, end up with exactly the persisted messages of their rooms, each once, in each room's order."""
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        tokens = [_register(client, f"syncsender{i}") for i in range(USERS)]
        readers = [_register(client, f"reader{i}") for i in range(READERS)]
        auth = {"Authorization": f"Bearer {tokens[0]}"}
        shared: list[str] = []
        while {shard_for(WRITERS, room) for room in shared} != set(WRITERS) or len(shared) < 2:
            shared.append(client.post("/_matrix/client/v3/createRoom", json={"preset": "public_chat"},
                                      headers=auth).json()["room_id"])
        for token in tokens[1:] + readers:
            for room in shared:
                assert client.post(f"/_matrix/client/v3/rooms/{room}/join", json={},
                                   headers={"Authorization": f"Bearer {token}"}).status_code == 200

    done = threading.Event()
    ready = threading.Barrier(READERS + 1)
    seen: list[list[tuple[str, str]]] = [[] for _ in readers]
    limited: list[bool] = []
    reading = [threading.Thread(target=_read_until, args=(server.base_url, token, ready, done, seen[i], limited))
               for i, token in enumerate(readers)]
    for thread in reading:
        thread.start()
    ready.wait(timeout=60)
    with ThreadPoolExecutor(USERS) as pool:
        list(pool.map(lambda i: _send_all(server.base_url, tokens[i], shared, i), range(USERS)))
    done.set()
    for thread in reading:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in reading)
    assert not any(limited), "no gaps: every timeline came whole"
    for room in shared:
        persisted = [row[0] for row in query(
            server, "SELECT event_id FROM events WHERE room_id = :room AND type = 'm.room.message' "
                    "ORDER BY stream_ordering", room=room)]
        for reader_seen in seen:
            assert [event_id for seen_room, event_id in reader_seen if seen_room == room] == persisted
