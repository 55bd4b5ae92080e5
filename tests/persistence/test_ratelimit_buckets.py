"""Token buckets behave the same in memory and in Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from persistence.ratelimit import Buckets, MemoryBuckets, RedisBuckets
from tests.services import redis_client


@pytest.fixture(params=["memory", "redis"])
def buckets(request: pytest.FixtureRequest, redis_db: int) -> Iterator[Buckets]:
    if request.param == "memory":
        yield MemoryBuckets()
        return
    client = redis_client(redis_db)
    prefix = "ganglion:test:buckets:"
    yield RedisBuckets(client, prefix)
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)


def test_burst_then_refill(buckets: Buckets) -> None:
    now = 1_000_000
    assert [buckets.take("k", 1.0, 3, now) for _ in range(3)] == [None, None, None]
    assert buckets.take("k", 1.0, 3, now) == 1000
    assert buckets.take("k", 1.0, 3, now + 500) == 500
    assert buckets.take("k", 1.0, 3, now + 1000) is None
    assert buckets.take("other", 1.0, 3, now) is None, "keys are independent"


def test_zero_rate_means_unlimited(buckets: Buckets) -> None:
    assert all(buckets.take("z", 0, 0, 1) is None for _ in range(10))
