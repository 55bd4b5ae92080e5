"""Live resharding's parts: rendezvous hashing moves few keys, the shard map history in the database, forwarding,
and the fence a key's new owner waits for (design in tasks/resharding.py; the live test is tests/e2e)."""

from __future__ import annotations

import threading
import time

import pytest

from config import ConfigError, parse_config
from config.routing import shard_for
from ganglion.shards import next_instances
from persistence.database import Database
from persistence.doorbell import RESYNC, Ring
from persistence.stores import Stores
from tasks.resharding import SHARDS_STREAM, Forward, InFlight, LiveRouting, ShardGuard, ShardHistory

CONFIG = parse_config({"server_name": "test.local", "stream_writers": {"events": ["p1", "p2"]}})
KEYS = [f"!room{index}:test.local" for index in range(3000)]


def test_adding_an_instance_moves_about_one_in_n_keys_all_to_it() -> None:
    before = {key: shard_for(("p1", "p2", "p3"), key) for key in KEYS}
    after = {key: shard_for(("p1", "p2", "p3", "p4"), key) for key in KEYS}
    moved = [key for key in KEYS if before[key] != after[key]]
    assert {after[key] for key in moved} == {"p4"}
    assert 0.18 < len(moved) / len(KEYS) < 0.32


def test_removing_an_instance_moves_only_its_own_keys() -> None:
    before = {key: shard_for(("p1", "p2", "p3"), key) for key in KEYS}
    after = {key: shard_for(("p1", "p3"), key) for key in KEYS}
    assert {before[key] for key in KEYS if before[key] != after[key]} == {"p2"}
    assert all(after[key] == before[key] for key in KEYS if before[key] != "p2")


def test_order_of_instances_does_not_change_the_owner() -> None:
    assert all(shard_for(("a", "b", "c"), key) == shard_for(("c", "a", "b"), key) for key in KEYS[:200])


def test_earlier_owners_name_the_epoch_each_lost_the_key() -> None:
    history = ShardHistory(((0, ("p1", "p2")), (1, ("p1", "p2", "p3")), (2, ("p1", "p3"))))
    moved = next(key for key in KEYS if shard_for(("p1", "p2"), key) == "p2" and shard_for(("p1", "p3"), key) == "p3"
                 and shard_for(("p1", "p2", "p3"), key) == "p2")
    assert history.earlier_owners(moved, "p3") == {"p2": 2}
    stayed = next(key for key in KEYS if shard_for(("p1", "p2"), key) == "p1" and shard_for(("p1", "p3"), key) == "p1")
    assert history.earlier_owners(stayed, "p1") == {}


def test_shard_changes_are_checked() -> None:
    assert next_instances(("p1",), "add", "events", "p2") == ("p1", "p2")
    assert next_instances(("p1", "p2"), "remove", "events", "p1") == ("p2",)
    assert next_instances(("as1",), "add", "appservice", "as2") == ("as1", "as2")
    for current, action, family, instance in [(("p1",), "add", "events", "p1"), (("p1",), "remove", "events", "p1"),
                                              (("p1", "p2"), "remove", "events", "p9"),
                                              (("p1",), "add", "media", "p2"), (("p1",), "add", "nope", "p2"),
                                              (("p1",), "add", "events", "bad.name")]:
        with pytest.raises(ConfigError):
            next_instances(current, action, family, instance)


def test_live_routing_follows_the_newest_epoch_and_keeps_removed_queues(database: Database) -> None:
    stores = Stores()
    routing = LiveRouting(CONFIG, database, stores)
    assert routing.epoch("events") == 0
    assert routing.table().instances("events") == ("p1", "p2")
    with database.write() as conn:
        stores.shards.insert_map(conn, "events", 0, ["p1", "p2"], 1)
        stores.shards.insert_map(conn, "events", 1, ["p1", "p2", "p3"], 2)
        stores.shards.insert_map(conn, "events", 2, ["p1", "p3"], 3)
    assert routing.epoch("events") == 0, "cached until a ring, a newer epoch in a message or the refresh period"
    routing.on_ring(Ring(SHARDS_STREAM, "admin", 2, ("events",)))
    assert routing.epoch("events") == 2
    assert routing.table().instances("events") == ("p1", "p3")
    assert routing.table().instances("typing") == ("main",), "other families keep their config"
    assert "events.p2" in routing.queues_for_instance("p2"), "a removed writer still drains its old queue"
    assert routing.queues_for_instance("p3") == ("events.p3",)
    assert routing.streams_written_by("p3") == ("events",)
    with database.write() as conn:
        stores.shards.insert_map(conn, "events", 3, ["p1"], 4)
    routing.on_ring(RESYNC)
    assert routing.epoch("events") == 3


def _guard(database: Database, instance: str, timeout: float = 5.0) -> ShardGuard:
    stores = Stores()
    with database.write() as conn:
        stores.shards.insert_map(conn, "events", 0, ["p1", "p2"], 1)
        stores.shards.insert_map(conn, "events", 1, ["p1", "p2", "p3"], 2)
    return ShardGuard(LiveRouting(CONFIG, database, stores), instance, database, stores, fence_timeout=timeout)


def test_a_writer_forwards_work_for_a_key_it_no_longer_owns(database: Database) -> None:
    guard = _guard(database, "p2")
    moved = next(key for key in KEYS if shard_for(("p1", "p2"), key) == "p2"
                 and shard_for(("p1", "p2", "p3"), key) == "p3")
    assert guard.admit("events", moved, epoch=0, hops=0) == Forward("events.p3", 1)
    assert guard.admit("events", moved, epoch=0, hops=4) is None, "bounded hops: runs where it is"
    assert guard.admit("background", None, epoch=0, hops=0) is None


def test_an_appservice_delivery_on_the_wrong_instance_is_forwarded_to_its_shard(database: Database) -> None:
    config = parse_config({"server_name": "test.local", "appservice_instances": ["as1", "as2"]})
    stores = Stores()
    guard = ShardGuard(LiveRouting(config, database, stores), "as1", database, stores, fence_timeout=1)
    assert guard.admit("appservice", "alpha", epoch=0, hops=0) == Forward("appservice.as2", 0)
    assert guard.admit("appservice", "beta", epoch=0, hops=0) is None


def test_a_new_owner_waits_for_the_old_owners_fence(database: Database) -> None:
    guard = _guard(database, "p3")
    moved = next(key for key in KEYS if shard_for(("p1", "p2"), key) == "p1"
                 and shard_for(("p1", "p2", "p3"), key) == "p3")
    stores = Stores()

    def fence_later() -> None:
        time.sleep(0.5)
        with database.write() as conn:
            stores.shards.upsert_fence(conn, "events", "p1", 1)

    thread = threading.Thread(target=fence_later)
    started = time.monotonic()
    thread.start()
    assert guard.admit("events", moved, epoch=1, hops=0) is None
    assert time.monotonic() - started >= 0.45, "waited for p1 to drain"
    thread.join()
    started = time.monotonic()
    assert guard.admit("events", moved, epoch=1, hops=0) is None
    assert time.monotonic() - started < 0.2, "a passed fence is remembered"


def test_a_dead_old_owner_delays_the_new_one_only_boundedly(database: Database) -> None:
    guard = _guard(database, "p3", timeout=0.3)
    moved = next(key for key in KEYS if shard_for(("p1", "p2"), key) == "p2"
                 and shard_for(("p1", "p2", "p3"), key) == "p3")
    started = time.monotonic()
    assert guard.admit("events", moved, epoch=1, hops=0) is None
    assert 0.3 <= time.monotonic() - started < 2.0


def test_fences_only_move_forward(database: Database) -> None:
    stores = Stores()
    with database.write() as conn:
        stores.shards.upsert_fence(conn, "events", "p1", 3)
        stores.shards.upsert_fence(conn, "events", "p1", 2)
    with database.read() as conn:
        assert stores.shards.get_fences(conn, "events") == {"p1": 3}


def test_a_fence_waits_for_the_tasks_that_started_before_it() -> None:
    in_flight = InFlight()
    first = in_flight.enter()
    fence = in_flight.enter()
    assert not in_flight.wait_before(fence, timeout=0.1)
    in_flight.leave(first)
    assert in_flight.wait_before(fence, timeout=0.1)
