"""Retired writers leave sync tokens: which writers count as retired and drained, the fold at a removed writer's
fence, and a folded writer that is given work again (design in tasks/retired_writers.py)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from config import parse_config
from config.database import DatabaseConfig
from persistence.database import Database
from persistence.stores import Stores
from protocol.sync_tokens import WriterPositions
from tasks.ledger import run_body
from tasks.registry import TaskSpec
from tasks.resharding import LiveRouting, ShardGuard
from tasks.retired_writers import drained_retirees, fold_retired_writers, removals
from tests.tasks.factories import make_context

CONFIG = parse_config({"server_name": "test.local", "stream_writers": {"events": ["p1", "p2"]}})


@pytest.fixture
def database(tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    """SQLite only: these tests leave shard maps behind, and the session's Celery worker plans its queues (when it
    starts) and routes (maps cached for ten seconds) by the shard maps of the shared PostgreSQL test database:
    maps left there took events.main from it, and the next worker-shape tests' events went unanswered. The fold's
    SQL runs on both databases in tests/persistence/test_writer_folding.py."""
    path = tmp_path / "store.db"
    shutil.copy(sqlite_template, path)
    database = Database(DatabaseConfig("sqlite3", f"sqlite:///{path}"))
    yield database
    database.dispose()


EPOCHS = ((0, ("p1", "p2")), (1, ("p1", "p2", "p3")), (2, ("p1", "p3")), (3, ("p1", "p3", "p2")), (4, ("p1",)))


def test_removals_name_the_epoch_that_last_removed_each_instance() -> None:
    assert removals(EPOCHS) == {"p2": 4, "p3": 4}, "p2 was added back at 3, so its removal at 2 no longer counts"
    assert removals(EPOCHS[:3]) == {"p2": 2}
    assert removals(EPOCHS[:1]) == {} and removals(()) == {}
    assert drained_retirees(EPOCHS, {"p2": 2, "p3": 4}) == ["p3"], "p2 passed only an older fence"


def _positions(database: Database) -> dict[str, int]:
    with database.read() as conn:
        return Stores().stream_ids.get_positions(conn, "events")


def _retire_p2(database: Database) -> Stores:
    stores = Stores()
    with database.write() as conn:
        stores.shards.insert_map(conn, "events", 0, ["p1", "p2"], 1)
        stores.shards.insert_map(conn, "events", 1, ["p1"], 2)
        for writer in ("p1", "p2"):
            stores.stream_ids.catch_up_writer(conn, "events", writer)
        ids = stores.stream_ids.allocate(conn, "events", 2, writer="p1")
        stores.stream_ids.advance_position(conn, "events", "p1", ids[-1])
    return stores


def test_a_removed_writer_is_folded_out_of_tokens_at_its_fence(database: Database) -> None:
    _retire_p2(database)
    before = WriterPositions.of_writers(_positions(database))
    assert "p1" in before.writers(), "p2, retired and behind, holds the floor and p1 is named beside it"
    guard = ShardGuard(LiveRouting(CONFIG, database, Stores()), "p2", database, Stores())
    guard.in_flight.enter()
    guard.pass_fence("events", 1)
    after = WriterPositions.of_writers(_positions(database))
    assert _positions(database).keys() == {"p1"} and after.writers() == {}
    assert after.covers(before)


def test_a_retired_writer_that_has_not_drained_stays(database: Database) -> None:
    stores = _retire_p2(database)
    assert fold_retired_writers(database, stores) == {}
    assert _positions(database).keys() == {"p1", "p2"}
    with database.write() as conn:
        stores.shards.upsert_fence(conn, "events", "p2", 1)
    assert fold_retired_writers(database, stores) == {"events": ["p2"]}
    assert fold_retired_writers(database, stores) == {}, "folded once"


def test_a_folded_writer_given_work_again_announces_itself_and_does_it(database: Database) -> None:
    stores = _retire_p2(database)
    with database.write() as conn:
        stores.shards.upsert_fence(conn, "events", "p2", 1)
    fold_retired_writers(database, stores)
    context = make_context(database, worker_name="p2")

    announced: list[bool] = []

    def write_one(context_: object) -> int:
        announced.append("p2" in _positions(database))
        with database.write() as conn:
            position = stores.stream_ids.allocate(conn, "events", writer="p2")[0]
            stores.stream_ids.advance_position(conn, "events", "p2", position)
        return position

    envelope = run_body(TaskSpec("test.write_one", family="events", body=write_one), context, {})
    assert announced == [False, True], "refused while folded, then run again once it had caught up"
    assert _positions(database)["p2"] == envelope["ok"], "back in tokens at what it wrote"
