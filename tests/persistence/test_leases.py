"""Leases: one holder at a time, fenced by a token that only grows; a waiting keeper takes over when the holder
stops or stops renewing."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest

from persistence.leases import Lease, LeaseKeeper
from tests.services import redis_client


@pytest.fixture
def lease_key(redis_db: int) -> Iterator[str]:
    key = f"test{os.getpid()}:lease:{time.monotonic_ns()}"
    yield key
    client = redis_client(redis_db)
    client.delete(key, f"{key}:fence")


def test_one_holder_at_a_time_and_tokens_only_grow(redis_db: int, lease_key: str) -> None:
    lease = Lease(redis_client(redis_db), lease_key, ttl_ms=5000)
    first = lease.acquire()
    assert first is not None
    assert lease.acquire() is None, "held: a second caller waits"
    assert lease.holds(first)
    assert lease.renew(first)
    assert not lease.renew(first + 1), "a stranger's token renews nothing"
    assert not lease.release(first + 1)
    assert lease.release(first)
    second = lease.acquire()
    assert second is not None and second > first
    assert not lease.holds(first), "the old token is fenced off"


def test_an_unrenewed_lease_expires(redis_db: int, lease_key: str) -> None:
    lease = Lease(redis_client(redis_db), lease_key, ttl_ms=200)
    stalled = lease.acquire()
    assert stalled is not None
    time.sleep(0.3)
    successor = lease.acquire()
    assert successor is not None and successor > stalled
    assert not lease.renew(stalled), "a holder back from a stall finds it lost the lease"


def test_a_waiting_keeper_takes_over_when_the_holder_stops(redis_db: int, lease_key: str) -> None:
    lost: list[int] = []
    first = LeaseKeeper(Lease(redis_client(redis_db), lease_key, ttl_ms=600), on_lost=lost.append).start()
    assert first.wait_acquired(5)
    second = LeaseKeeper(Lease(redis_client(redis_db), lease_key, ttl_ms=600)).start()
    try:
        time.sleep(0.9)  # longer than the ttl: renewals keep the first holder in place
        assert first.is_held() and not second.is_held()
        assert not second.wait_acquired(0)
        first.stop()
        assert second.wait_acquired(5), "released on stop: the waiting copy takes over at once"
        assert second.is_held() and not first.is_held()
        assert lost == []
    finally:
        second.stop()


def test_a_keeper_whose_token_is_taken_reports_the_loss(redis_db: int, lease_key: str) -> None:
    lost = threading.Event()
    lease = Lease(redis_client(redis_db), lease_key, ttl_ms=300)
    keeper = LeaseKeeper(lease, on_lost=lambda _token: lost.set()).start()
    try:
        assert keeper.wait_acquired(5)
        redis_client(redis_db).set(lease_key, "999999", px=5000)  # as if it had expired and another took it
        assert lost.wait(5)
        assert not keeper.is_held()
    finally:
        keeper.stop()


def test_a_holder_takes_its_lease_back_when_redis_lost_it(redis_db: int, lease_key: str) -> None:
    lost = threading.Event()
    client = redis_client(redis_db)
    keeper = LeaseKeeper(Lease(client, lease_key, ttl_ms=300), on_lost=lambda _token: lost.set()).start()
    try:
        assert keeper.wait_acquired(5)
        token = keeper.token
        client.delete(lease_key, f"{lease_key}:fence")  # what a Redis restart without persistence leaves
        deadline = time.monotonic() + 5
        while client.get(lease_key) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.get(lease_key) == str(token).encode(), "the next renewal restores the same token"
        assert keeper.is_held() and not lost.is_set()
        assert Lease(client, lease_key, ttl_ms=300).acquire() is None, "a second copy still waits"
        assert int(client.get(f"{lease_key}:fence") or 0) >= token, "the counter never hands the token out again"
    finally:
        keeper.stop()


def test_tokens_handed_out_after_redis_lost_the_counter_exceed_earlier_ones(redis_db: int, lease_key: str) -> None:
    client = redis_client(redis_db)
    lease = Lease(client, lease_key, ttl_ms=5000)
    before = lease.acquire()
    assert before is not None and lease.release(before)
    client.delete(f"{lease_key}:fence")
    after = lease.acquire()
    assert after is not None and after > before
    assert not lease.holds(before)
