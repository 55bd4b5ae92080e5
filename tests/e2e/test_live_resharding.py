"""A third events writer joins during a burst of sends, with no restart of the web tier or the other writers.

``ganglion shards add events persister3`` appends an epoch to the shard map; the web workers and writers pick it
up from the doorbell, the rooms rendezvous hashing gives to persister3 move to it after their old owners pass their
fences, and clients keep sending (retrying with the same transaction id on a 5xx or a timeout, as clients do).
Nothing is lost or duplicated, each room stays one chain in each sender's order, a reader syncing all along sees
every event once, and the moved rooms really are written by persister3 afterwards (tasks/resharding.py).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from config.routing import shard_for
from tests.e2e.servers import RunningServer, _spawn, ganglion, query, start_workers, wait_for_celery

LIMIT = {"per_second": 100000, "burst_count": 100000}
BEFORE = ("persister1", "persister2")
AFTER = ("persister1", "persister2", "persister3")
SENDERS = 3
MESSAGES = 16
DEADLINE_SECONDS = 180


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_workers(Path(tmp_path_factory.mktemp("reshard")), instances=("main", *BEFORE),
                            stream_writers={"events": list(BEFORE)}, rc_message=LIMIT, rc_room_creation=LIMIT,
                            redis_extra={"visibility_timeout": 10})
    yield running
    running.stop()


def _put_until_answered(client: httpx.Client, path: str, body: dict[str, object], deadline: float) -> str:
    while True:
        assert time.monotonic() < deadline, f"{path} was never answered"
        try:
            response = client.put(path, json=body)
        except httpx.TimeoutException:
            continue
        if response.status_code == 200:
            return str(response.json()["event_id"])
        assert response.status_code >= 500, response.text  # only "try again" answers are retried
        time.sleep(0.2)


def _send(base_url: str, token: str, rooms: list[str], sender: int, deadline: float,
          progress: threading.Semaphore) -> list[str]:
    ids = []
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=45) as client:
        for index in range(MESSAGES):
            for room in rooms:
                path = f"/_matrix/client/v3/rooms/{room}/send/m.room.message/r{sender}m{index}"
                ids.append(_put_until_answered(client, path, {"msgtype": "m.text", "body": f"{sender}:{index}"},
                                               deadline))
            progress.release()
    return ids


def _read(base_url: str, token: str, since: str, done: threading.Event, seen: list[tuple[str, str]]) -> None:
    wide = json.dumps({"room": {"timeline": {"limit": 1000}}})
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        while True:
            finished = done.is_set()
            body = client.get("/_matrix/client/v3/sync",
                              params={"since": since, "timeout": 0 if finished else 500, "filter": wide}).json()
            new = [(room, event["event_id"]) for room, section in body["rooms"]["join"].items()
                   for event in section["timeline"]["events"] if event["type"] == "m.room.message"]
            seen.extend(new)
            since = body["next_batch"]
            if finished and not new:
                return


@pytest.mark.e2e
def test_a_writer_added_during_a_burst_takes_its_rooms_and_loses_nothing(server: RunningServer) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        tokens = []
        for index in range(SENDERS + 1):
            body = {"username": f"resharder{index}", "password": "pw", "auth": {"type": "m.login.dummy"}}
            tokens.append(client.post("/_matrix/client/v3/register", json=body).json()["access_token"])
        auth = {"Authorization": f"Bearer {tokens[0]}"}
        rooms: list[str] = []
        # Rooms until two move to persister3 and two stay on each old writer.
        while (sum(shard_for(AFTER, room) == "persister3" for room in rooms) < 2
               or sum(shard_for(AFTER, room) != "persister3" for room in rooms) < 3):
            rooms.append(client.post("/_matrix/client/v3/createRoom", json={"preset": "public_chat"},
                                     headers=auth).json()["room_id"])
        for token in tokens[1:]:
            for room in rooms:
                assert client.post(f"/_matrix/client/v3/rooms/{room}/join", json={},
                                   headers={"Authorization": f"Bearer {token}"}).status_code == 200
        wide = json.dumps({"room": {"timeline": {"limit": 1}}})
        since = client.get("/_matrix/client/v3/sync", params={"filter": wide},
                           headers={"Authorization": f"Bearer {tokens[SENDERS]}"}).json()["next_batch"]
    moved = [room for room in rooms if shard_for(AFTER, room) == "persister3"]
    old_pids = {process.name: process.popen.pid for process in server.processes}

    deadline = time.monotonic() + DEADLINE_SECONDS
    done = threading.Event()
    seen: list[tuple[str, str]] = []
    reader = threading.Thread(target=_read, args=(server.base_url, tokens[SENDERS], since, done, seen))
    reader.start()
    progress = threading.Semaphore(0)
    results: dict[int, list[str]] = {}
    senders = [threading.Thread(target=lambda i=i: results.__setitem__(
        i, _send(server.base_url, tokens[i], rooms, i, deadline, progress))) for i in range(SENDERS)]
    for thread in senders:
        thread.start()
    for _ in range(SENDERS * 3):  # every sender is a few rounds into the burst
        assert progress.acquire(timeout=60)

    changed = server.run_cli("shards", "add", "events", "persister3", "--config", str(server.config_path),
                             "--wait", "60")
    assert changed.returncode == 0, changed.stdout + changed.stderr
    server.processes.append(_spawn("worker-persister3", ganglion(
        "worker", "persister3", "--config", str(server.config_path), "--concurrency", "2"), server.directory))
    wait_for_celery(server, workers=4)
    for thread in senders:
        thread.join(timeout=DEADLINE_SECONDS)
    assert set(results) == set(range(SENDERS)), "every sender finished"
    done.set()
    reader.join(timeout=120)
    assert not reader.is_alive()

    assert all(process.popen.pid == old_pids[process.name] and process.popen.poll() is None
               for process in server.processes if process.name in old_pids), "nothing else was restarted"
    sent = {event_id for ids in results.values() for event_id in ids}
    assert len(sent) == SENDERS * MESSAGES * len(rooms), "each send is one event, retries included"
    for room in rooms:
        rows = query(server, "SELECT event_id, depth, json, instance_name FROM events WHERE room_id = :room "
                             "ORDER BY stream_ordering", room=room)
        messages = [row for row in rows if '"m.room.message"' in row[2]]
        assert len(messages) == SENDERS * MESSAGES, "nothing lost, nothing duplicated"
        assert [row[1] for row in rows] == list(range(1, len(rows) + 1)), "one chain: per-room order kept"
        for sender in range(SENDERS):
            order = [int(row[2].split(f'"body":"{sender}:')[1].split('"')[0]) for row in messages
                     if f'"body":"{sender}:' in row[2]]
            assert order == list(range(MESSAGES)), "each sender's order kept"
        writers = [row[3] for row in messages]
        if room in moved:
            assert writers[-1] == "persister3", "the room moved to the new writer"
            first_new = writers.index("persister3")
            assert set(writers[first_new:]) == {"persister3"}, "once moved, only the new owner writes"
            assert set(writers[:first_new]) <= set(BEFORE)
        else:
            assert "persister3" not in writers, "rooms that did not move stay where they were"
        extremities = query(server, "SELECT count(*) FROM event_forward_extremities WHERE room_id = :room",
                            room=room)
        assert extremities[0][0] == 1
        persisted = [row[0] for row in messages]
        assert [event_id for seen_room, event_id in seen if seen_room == room] == persisted, \
            "the reader saw every event once, in order, across the move"
    positions = dict(query(server, "SELECT instance_name, position FROM stream_positions "
                                   "WHERE stream_name = 'events'"))
    assert set(AFTER) <= set(positions), "the new writer has a position of its own"
    shown = server.run_cli("shards", "show", "--config", str(server.config_path))
    assert "events: epoch 1 (shard map): persister1, persister2, persister3" in shown.stdout


def _ensure_third_writer(server: RunningServer) -> None:
    """The later tests start from the first one's state; under xdist they may get a server of their own."""
    shown = server.run_cli("shards", "show", "--config", str(server.config_path))
    if "persister3" in shown.stdout:
        return
    changed = server.run_cli("shards", "add", "events", "persister3", "--config", str(server.config_path),
                             "--wait", "60")
    assert changed.returncode == 0, changed.stdout + changed.stderr
    server.processes.append(_spawn("worker-persister3", ganglion(
        "worker", "persister3", "--config", str(server.config_path), "--concurrency", "2"), server.directory))
    wait_for_celery(server, workers=4)


def _user_and_room(server: RunningServer, name: str, owner_before: str, owner_after: str,
                   before: tuple[str, ...], after: tuple[str, ...]) -> tuple[str, str, str]:
    """A user and a room of theirs that ``before`` gives to ``owner_before`` and ``after`` to ``owner_after``."""
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        body = {"username": name, "password": "pw", "auth": {"type": "m.login.dummy"}}
        registered = client.post("/_matrix/client/v3/register", json=body).json()
        auth = {"Authorization": f"Bearer {registered['access_token']}"}
        while True:
            room = client.post("/_matrix/client/v3/createRoom", json={}, headers=auth).json()["room_id"]
            if shard_for(before, room) == owner_before and shard_for(after, room) == owner_after:
                return registered["access_token"], registered["user_id"], room


@pytest.mark.e2e
def test_work_routed_with_a_stale_map_is_forwarded_to_the_new_owner(server: RunningServer) -> None:
    """A process that has not heard of the change yet sends to the old owner: it forwards, and the caller gets
    the new owner's answer under the same task id."""
    from config import load_config
    from tasks.api import CREATE_EVENT
    from tasks.app import create_celery
    from tasks.envelope import unwrap
    from tasks.resharding import EPOCH_HEADER

    _ensure_third_writer(server)
    _token, user_id, room = _user_and_room(server, "stale", "persister1", "persister3", BEFORE, AFTER)
    app = create_celery(load_config([str(server.config_path)]))
    try:
        result = app.send_task(CREATE_EVENT, queue="events.persister1", headers={EPOCH_HEADER: 0}, kwargs={
            "room_id": room, "sender": user_id, "event_type": "m.room.message",
            "content": {"msgtype": "m.text", "body": "stale"}})
        event_id = unwrap(result.get(timeout=30))["event_id"]
    finally:
        app.close()
    assert query(server, "SELECT instance_name FROM events WHERE event_id = :e", e=event_id) == [("persister3",)]


@pytest.mark.e2e
def test_a_removed_writer_drains_and_its_rooms_move_to_the_others(server: RunningServer) -> None:
    _ensure_third_writer(server)
    remaining = ("persister2", "persister3")
    token, _user_id, room = _user_and_room(server, "leaving", "persister1", "persister2", AFTER, remaining)
    deadline = time.monotonic() + DEADLINE_SECONDS
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=45) as client:
        first = _put_until_answered(client, f"/_matrix/client/v3/rooms/{room}/send/m.room.message/before", {
            "msgtype": "m.text", "body": "before"}, deadline)
        removed = server.run_cli("shards", "remove", "events", "persister1", "--config", str(server.config_path),
                                 "--wait", "60")
        assert removed.returncode == 0, removed.stdout + removed.stderr
        leaving = next(process for process in server.processes if process.name == "worker-persister1")
        leaving.stop()  # drained: its fence passed, so stopping it loses nothing
        second = _put_until_answered(client, f"/_matrix/client/v3/rooms/{room}/send/m.room.message/after", {
            "msgtype": "m.text", "body": "after"}, deadline)
    rows = query(server, "SELECT event_id, instance_name FROM events WHERE event_id IN (:a, :b) "
                         "ORDER BY stream_ordering", a=first, b=second)
    assert rows == [(first, "persister1"), (second, "persister2")]
    positions = dict(query(server, "SELECT instance_name, position FROM stream_positions "
                                   "WHERE stream_name = 'events'"))
    assert "persister1" in positions, "the removed writer's final position stays readable"
