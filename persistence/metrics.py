"""Prometheus collectors computed on scrape: queue depths from Redis and stream positions from the database.

They read live state instead of counting events, so any process (a web worker, an instance's supervisor) reports
the whole deployment's view, and a process that restarts loses nothing. A scrape that cannot reach Redis or the
database reports what it could and leaves the rest out, rather than failing the whole scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import redis
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from persistence.database import Database
from persistence.stream_ids import StreamIds

logger = logging.getLogger(__name__)

# kombu's Redis transport keeps a queue's prioritised messages in sibling lists named with this separator.
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


class QueueDepthCollector(Collector):
    """``ganglion_queue_depth{queue}``: messages waiting on each Celery queue (LLEN of its Redis lists)."""

    def __init__(self, client: redis.Redis, queues: tuple[str, ...], key_prefix: str = "") -> None:
        self._client = client
        self._queues = queues
        self._prefix = key_prefix

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("ganglion_queue_depth", "Messages waiting on a Celery queue", labels=["queue"])
        try:
            pipeline = self._client.pipeline(transaction=False)
            for queue in self._queues:
                for suffix in _PRIORITY_SUFFIXES:
                    pipeline.llen(f"{self._prefix}{queue}{suffix}")
            lengths = pipeline.execute()
        except redis.RedisError as error:
            logger.warning("queue depths not scraped: %s", error)
            return
        step = len(_PRIORITY_SUFFIXES)
        for index, queue in enumerate(self._queues):
            family.add_metric([queue], sum(lengths[index * step:(index + 1) * step]))
        yield family


class StreamPositionCollector(Collector):
    """``ganglion_stream_position{stream,writer}`` and ``ganglion_stream_writer_lag{stream,writer}``: how far each
    writer has committed, and how far it is behind the stream's furthest writer (what holds readers back)."""

    def __init__(self, database: Database, streams: tuple[str, ...]) -> None:
        self._database = database
        self._streams = streams
        self._stream_ids = StreamIds()

    def collect(self) -> Iterator[Metric]:
        positions = GaugeMetricFamily("ganglion_stream_position", "Stream position a writer has committed up to",
                                      labels=["stream", "writer"])
        lag = GaugeMetricFamily("ganglion_stream_writer_lag", "How far a writer is behind its stream's furthest",
                                labels=["stream", "writer"])
        try:
            with self._database.read() as conn:
                found = self._stream_ids.get_all_positions(conn, self._streams)
        except SQLAlchemyError as error:
            logger.warning("stream positions not scraped: %s", error)
            return
        for stream, writers in found.items():
            furthest = max(writers.values(), default=0)
            for writer, position in sorted(writers.items()):
                positions.add_metric([stream, writer], position)
                lag.add_metric([stream, writer], furthest - position)
        yield positions
        yield lag


class _DefaultMetrics(Collector):
    """The process's own metrics (prometheus-client's default registry), re-exposed in a serving registry."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def serving_registry(collectors: list[Collector], multiprocess_dir: str | None = None) -> CollectorRegistry:
    """What a ``/metrics`` endpoint exposes: this process's metrics, or with ``multiprocess_dir`` those of every
    process writing there (prometheus-client's multiprocess mode), plus ``collectors`` computed on scrape.
    A fresh registry each time, so building the app twice in one process never registers anything twice."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir:
        MultiProcessCollector(registry, path=multiprocess_dir)
    else:
        registry.register(_DefaultMetrics())
    for collector in collectors:
        registry.register(collector)
    return registry


def deployment_collectors(database: Database, redis_url: str | None, queues: tuple[str, ...], key_prefix: str,
                          streams: tuple[str, ...]) -> list[Collector]:
    """Queue depths (when there is a broker) and stream positions, for any process's ``/metrics``."""
    collectors: list[Collector] = [StreamPositionCollector(database, streams)]
    if redis_url:
        client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        collectors.append(QueueDepthCollector(client, queues, key_prefix))
    return collectors
