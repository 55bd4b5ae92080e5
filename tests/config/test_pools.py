"""Pools per queue family: ordered queues get one consumer, outbound and housekeeping queues a concurrent pool."""

from __future__ import annotations

from config import parse_config
from config.pools import CONCURRENT, ORDERED, PoolPlan, plan_pools

SHARDED = {"server_name": "example.org", "stream_writers": {"events": ["persister1", "persister2"]},
           "federation_sender_instances": ["fed1"], "pusher_instances": ["pusher1"],
           "run_background_tasks_on": "background1", "notify_appservices_from_worker": "background1"}


def test_a_writer_gets_one_consumer_and_a_sender_a_concurrent_pool() -> None:
    routing = parse_config(SHARDED).routing
    assert plan_pools(routing, "persister1", 8) == (PoolPlan(ORDERED, ("events.persister1",), 1),)
    assert plan_pools(routing, "fed1", 8) == (PoolPlan(CONCURRENT, ("federation.fed1",), 8),)
    assert plan_pools(routing, "pusher1", 4) == (PoolPlan(CONCURRENT, ("push.pusher1",), 4),)
    assert plan_pools(routing, "nobody", 8) == ()


def test_an_instance_with_both_kinds_gets_two_pools() -> None:
    routing = parse_config(SHARDED).routing
    ordered, concurrent = plan_pools(routing, "background1", 3)
    assert ordered == PoolPlan(ORDERED, ("appservice.background1",), 1)
    assert concurrent == PoolPlan(CONCURRENT, ("background",), 3)
    main_ordered, main_concurrent = plan_pools(parse_config({"server_name": "example.org"}).routing, "main", 0)
    assert "events.main" in main_ordered.queues and "typing.main" in main_ordered.queues
    assert set(main_concurrent.queues) == {"federation.main", "push.main", "media", "background"}
    assert main_concurrent.concurrency == 1, "never a pool of zero"


def test_appservice_instances_each_get_one_consumer() -> None:
    routing = parse_config({"server_name": "example.org", "appservice_instances": ["as1", "as2"]}).routing
    assert plan_pools(routing, "as2", 8) == (PoolPlan(ORDERED, ("appservice.as2",), 1),)


def test_node_names_tell_the_processes_of_an_instance_apart() -> None:
    assert PoolPlan(ORDERED, (), 1).hostname("main") == "main@%h"
    assert PoolPlan(CONCURRENT, (), 8).hostname("main") == "main.concurrent@%h"
