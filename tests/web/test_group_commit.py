"""Events sent while the events writer is committing are persisted together (tasks/group_commit.py), and /sync
sees such a burst whole, in each room's order, with nothing skipped.

A monolith on each database, its sends run on threads as gunicorn's greenlets run them: the burst is made
deterministic with a batch of the writer's own that waits inside its transaction until the sends have queued. And
a Celery events writer, which takes the sends queued behind the one it runs (tasks/queue_drain.py).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, text

from config import parse_config
from ganglion.wiring import build_monolith
from persistence.locks import lock_room
from tests.clock import FakeClock
from tests.conftest import HomeserverFactory
from tests.homeserver import HomeserverUnderTest, base_config_data
from tests.services import pg_database_args, redis_client
from web.app import create_app

SENDS = 4
"""Per room; two rooms, interleaved."""


@pytest.fixture(params=["sqlite", "postgresql"])
def monolith(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[Any]:
    data = base_config_data()
    if request.param == "sqlite":
        shutil.copy(sqlite_template, tmp_path / "homeserver.db")
        data["database"] = {"name": "sqlite3", "args": {"database": str(tmp_path / "homeserver.db")}}
    else:
        name = request.getfixturevalue("pg_database_name")
        data["database"] = {"name": "psycopg2", "args": pg_database_args(name)}
    config = parse_config(data)
    clock = FakeClock()
    built = build_monolith(config, clock)
    if request.param == "postgresql":
        from tests.conftest import _reset_postgres

        _reset_postgres(built.deps.database)
    server = HomeserverUnderTest("monolith", config, built.deps, create_app(config, built.deps), clock)
    yield server, built.context
    built.deps.doorbell.close()
    built.deps.database.dispose()


class Transactions:
    """Which transaction (per connection, numbered as they commit) inserted each event row."""

    def __init__(self) -> None:
        self.current: dict[int, int] = defaultdict(int)
        self.inserts: dict[tuple[int, int], int] = defaultdict(int)
        self._lock = threading.Lock()

    def executed(self, conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO EVENTS "):
            with self._lock:
                key = id(conn.connection.dbapi_connection)
                self.inserts[(key, self.current[key])] += 1

    def committed(self, conn: Connection) -> None:
        with self._lock:
            self.current[id(conn.connection.dbapi_connection)] += 1


def _timeline(server: HomeserverUnderTest, token: str, since: str, room: str) -> dict[str, Any]:
    response = server.get(f"/_matrix/client/v3/sync?since={since}&timeout=0", token=token)
    assert response.status_code == 200, response.json
    return dict(response.json["rooms"]["join"].get(room, {}).get("timeline", {"events": []}))


def test_a_burst_sent_while_the_writer_commits_is_one_transaction_that_sync_sees_whole_in_room_order(
        monolith: Any) -> None:
    server, context = monolith
    token = server.register("burst")["access_token"]
    rooms = [server.post("/_matrix/client/v3/createRoom", json={}, token=token).json["room_id"] for _ in range(2)]
    since = server.get("/_matrix/client/v3/sync", token=token).json["next_batch"]

    # The writer is busy with a batch of its own: whatever is sent meanwhile queues for the next one.
    entered, release = threading.Event(), threading.Event()

    def busy(conn: Connection) -> None:
        entered.set()
        release.wait(timeout=60)

    blocker = threading.Thread(target=context.group_commit.run, args=(context.database, rooms[0], busy))
    blocker.start()
    assert entered.wait(timeout=30)

    answers: dict[str, int] = {}
    bodies = [(rooms[index % 2], f"m{index // 2}") for index in range(2 * SENDS)]

    def send(room: str, body: str) -> None:
        client = server.app.test_client()  # a client per thread, as each request has its own connection
        response = client.put(f"/_matrix/client/v3/rooms/{room}/send/m.room.message/{room}{body}",
                              json={"msgtype": "m.text", "body": body}, headers={"Authorization": f"Bearer {token}"})
        answers[f"{room}{body}"] = response.status_code

    transactions = Transactions()
    event.listen(server.deps.database.engine, "before_cursor_execute", transactions.executed)
    event.listen(server.deps.database.engine, "commit", transactions.committed)
    senders = []
    try:
        for queued, (room, body) in enumerate(bodies, start=1):
            sender = threading.Thread(target=send, args=(room, body))
            sender.start()
            senders.append(sender)
            deadline = time.monotonic() + 30
            while context.group_commit.queued() < queued:  # handed over in this order
                assert sender.is_alive() and time.monotonic() < deadline, answers
                time.sleep(0.01)
        for room in rooms:
            assert _timeline(server, token, since, room)["events"] == [], "nothing of the burst before its commit"
        release.set()
        blocker.join(timeout=60)
        for sender in senders:
            sender.join(timeout=60)
    finally:
        release.set()
        event.remove(server.deps.database.engine, "before_cursor_execute", transactions.executed)
        event.remove(server.deps.database.engine, "commit", transactions.committed)

    assert set(answers.values()) == {200}, answers
    assert sorted(transactions.inserts.values()) == [2 * SENDS], "every event of the burst in one transaction"
    for room in rooms:
        timeline = _timeline(server, token, since, room)
        assert not timeline.get("limited")
        assert [item["content"]["body"] for item in timeline["events"]] == [f"m{n}" for n in range(SENDS)], \
            "the room's events, in the order they were sent, none missing"


@pytest.mark.parametrize("shape", ["workers"])
def test_a_celery_events_writer_commits_the_sends_queued_behind_its_task_with_it(
        make_homeserver: HomeserverFactory, redis_db: int) -> None:
    """The running events.create takes the ones queued behind it (tasks/queue_drain.py): the sends that queued
    while the writer waited on a room lock commit as one transaction, in queue order, each answered."""
    server = make_homeserver()
    token = server.register("queued")["access_token"]
    room = server.post("/_matrix/client/v3/createRoom", json={}, token=token).json["room_id"]
    since = server.get("/_matrix/client/v3/sync", token=token).json["next_batch"]
    queue = f"{server.config.redis.key_prefix}events.main"
    redis = redis_client(redis_db)
    holding, release = threading.Event(), threading.Event()

    def hold_room_lock() -> None:
        with server.deps.database.write() as conn:
            lock_room(conn, room)
            holding.set()
            release.wait(timeout=60)

    answers: dict[str, int] = {}
    _probe_transactions(server, create=True)

    def send(body: str) -> None:
        response = server.app.test_client().put(
            f"/_matrix/client/v3/rooms/{room}/send/m.room.message/{body}", json={"msgtype": "m.text", "body": body},
            headers={"Authorization": f"Bearer {token}"})
        answers[body] = response.status_code

    holder = threading.Thread(target=hold_room_lock)
    holder.start()
    senders = []
    try:
        assert holding.wait(timeout=30)
        # m0 is taken by the writer, which then waits for the room's lock; m1..m4 queue behind it, in order.
        for index in range(SENDS + 1):
            sender = threading.Thread(target=send, args=(f"m{index}",))
            sender.start()
            senders.append(sender)
            deadline = time.monotonic() + 30
            while redis.llen(queue) < index:
                assert time.monotonic() < deadline, "queued behind the running send"
                time.sleep(0.01)
            if index == 0:
                while not _waiting_for_a_lock(server):
                    assert time.monotonic() < deadline, "the writer waits for the room's lock"
                    time.sleep(0.01)
    finally:
        release.set()
        holder.join(timeout=60)
        for sender in senders:
            sender.join(timeout=60)
        redis.close()
    try:
        with server.deps.database.read() as conn:
            rows = conn.execute(text(
                "SELECT json::json->'content'->>'body', txid FROM events JOIN group_commit_probe USING (event_id) "
                "WHERE room_id = :room AND type = 'm.room.message' ORDER BY stream_ordering"), {"room": room}).all()
    finally:
        _probe_transactions(server, create=False)

    assert answers == {f"m{index}": 200 for index in range(SENDS + 1)}
    assert [row[0] for row in rows] == [f"m{index}" for index in range(SENDS + 1)], "in queue order"
    assert len({row[1] for row in rows[1:]}) == 1, "the queued sends in one transaction"
    timeline = _timeline(server, token, since, room)
    assert [item["content"]["body"] for item in timeline["events"]] == [f"m{n}" for n in range(SENDS + 1)]


def _probe_transactions(server: HomeserverUnderTest, *, create: bool) -> None:
    """A trigger noting the (top-level) transaction that inserts each event: a row's xmin would name the
    savepoint it was written in."""
    statements = [
        "CREATE TABLE group_commit_probe (event_id text, txid bigint)",
        "CREATE FUNCTION group_commit_probe() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "INSERT INTO group_commit_probe VALUES (NEW.event_id, txid_current()); RETURN NEW; END $$",
        "CREATE TRIGGER group_commit_probe AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION group_commit_probe()",
    ] if create else [
        "DROP TRIGGER IF EXISTS group_commit_probe ON events", "DROP FUNCTION IF EXISTS group_commit_probe()",
        "DROP TABLE IF EXISTS group_commit_probe"]
    with server.deps.database.write() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def _waiting_for_a_lock(server: HomeserverUnderTest) -> bool:
    """Whether some session of the test database waits for an advisory lock (the writer, on the room's)."""
    with server.deps.database.read() as conn:
        return bool(conn.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")).scalar_one())
