"""The doorbell delivers rings to listeners, in process and across processes via Redis."""

from __future__ import annotations

import queue

from persistence.doorbell import LocalDoorbell, RedisDoorbell, Ring


def test_local_doorbell_calls_listeners_and_survives_a_broken_one() -> None:
    doorbell = LocalDoorbell()
    heard: list[Ring] = []

    def broken(ring: Ring) -> None:
        raise RuntimeError("boom")

    doorbell.listen(broken)
    doorbell.listen(heard.append)
    doorbell.ring(Ring("device_lists", "main", 5, ("@a:x",)))
    assert heard == [Ring("device_lists", "main", 5, ("@a:x",))]


def test_redis_doorbell_reaches_another_connection(redis_db: int) -> None:
    url = f"redis://127.0.0.1:6379/{redis_db}"
    listener, ringer = RedisDoorbell(url, "ganglion:test:doorbell"), RedisDoorbell(url, "ganglion:test:doorbell")
    heard: queue.Queue[Ring] = queue.Queue()
    try:
        listener.listen(heard.put)
        assert listener.wait_subscribed(5)
        ringer.ring(Ring("device_lists", "writer1", 42, ("@b:x",)))
        assert heard.get(timeout=5) == Ring("device_lists", "writer1", 42, ("@b:x",))
    finally:
        listener.close()
        ringer.close()
