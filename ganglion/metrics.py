"""Serving ``/metrics`` from a Celery worker instance on its ``metrics`` listeners (``worker_listeners`` with
``type: metrics`` and ``enable_metrics: true``, as Synapse's).

An instance with two pools runs two Celery processes; their task metrics go to a shared directory in
prometheus-client's multiprocess mode, and the supervisor serves them with the deployment's queue depths and
stream positions on the instance's one metrics port.
"""

from __future__ import annotations

import tempfile

from prometheus_client import start_http_server

from config import HomeserverConfig
from config.workers import STREAMS
from persistence.database import Database
from persistence.metrics import deployment_collectors, serving_registry

MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str:
    return tempfile.mkdtemp(prefix="ganglion-metrics-")


def serve_instance_metrics(config: HomeserverConfig, multiprocess: str | None = None) -> None:
    """Start a metrics HTTP server thread per metrics listener of this process (none without any)."""
    listeners = config.metrics_listeners
    if not listeners:
        return
    collectors = deployment_collectors(Database(config.database), config.redis.url, config.routing.all_queues(),
                                       config.redis.key_prefix, STREAMS)
    registry = serving_registry(collectors, multiprocess)
    for listener in listeners:
        for address in listener.bind_addresses:
            start_http_server(int(listener.port or 0), addr=address, registry=registry)
