"""What a Celery events writer takes from behind its running task (tasks/queue_drain.py), on a real Redis queue."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from celery import Celery

from config import parse_config
from tasks.app import create_celery
from tasks.queue_drain import QueueDrain
from tests.conftest import RUN_ID
from tests.homeserver import base_config_data
from tests.services import redis_client

QUEUE = "events.main"


@pytest.fixture
def app(redis_db: int) -> Iterator[Celery]:
    data = base_config_data()
    data["redis"] = {"enabled": True, "host": "127.0.0.1", "port": 6379, "dbid": redis_db,
                     "key_prefix": f"test{RUN_ID}:drain:"}
    app = create_celery(parse_config(data))
    yield app
    client = redis_client(redis_db)
    for key in client.scan_iter(match=f"test{RUN_ID}:drain:*"):
        client.delete(key)
    client.close()


def _queue(app: Celery, *names: str) -> None:
    for index, name in enumerate(names):
        app.send_task(name, kwargs={"room_id": "!room:test.local", "n": index}, queue=QUEUE)


def test_it_takes_the_same_task_queued_next_in_order_and_stops_at_any_other(app: Celery, redis_db: int) -> None:
    _queue(app, "events.create", "events.create", "shards.fence", "events.create")
    drain = QueueDrain(app)
    taken = drain.take(QUEUE, "events.create")
    assert [item.kwargs["n"] for item in taken] == [0, 1], "in queue order, up to the first other task"
    client = redis_client(redis_db)
    try:
        assert client.hlen(f"test{RUN_ID}:drain:unacked") == 2, "taken as Celery takes them: unacked until acked"
        for item in taken:
            drain.settle(item, {"ok": None}, returns_result=False)
        assert client.hlen(f"test{RUN_ID}:drain:unacked") == 0
        assert client.llen(f"test{RUN_ID}:drain:{QUEUE}") == 2, "the fence and what follows it stay queued"
    finally:
        client.close()
    assert drain.take(QUEUE, "events.create") == [], "a fence is never overtaken"


def test_it_takes_at_most_its_limit(app: Celery) -> None:
    _queue(app, *["events.create"] * 5)
    assert len(QueueDrain(app, limit=3).take(QUEUE, "events.create")) == 3
