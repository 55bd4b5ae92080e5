"""Prometheus metrics of the web tier: request latency by route template and method, responses by status, and
``/metrics`` served on the process's ``metrics`` listeners only (never on the client/federation ports).

gunicorn runs several worker processes; ``ganglion web`` puts them in prometheus-client's multiprocess mode (one
shared directory of per-process files), so a scrape answered by any worker reports all of them on one port,
instead of one port per worker that a scrape config would have to know.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import Counter, Histogram, make_wsgi_app

from config import HomeserverConfig
from config.workers import STREAMS
from persistence.metrics import deployment_collectors, serving_registry
from web.deps import Deps

MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_PATHS = ("/metrics", "/_synapse/metrics")

REQUEST_SECONDS = Histogram(
    "ganglion_http_request_duration_seconds", "Time to answer a request, by route template and method",
    ["method", "route"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
RESPONSES = Counter("ganglion_http_responses_total", "Responses sent, by route template, method and status",
                    ["method", "route", "status"])

LONG_POLL_RETURNS = Counter(
    "ganglion_sync_long_poll_returns_total",
    "Long-polling /syncs answered, by what ended them: news at the first look (at_once), a doorbell ring for the "
    "user or one of their rooms (ring), or the timeout (timeout; news found then means a ring went missing)",
    ["cause"],
)
UNAVAILABLE = Counter(
    "ganglion_http_unavailable_total",
    "Requests answered 503 because something they needed was unavailable, by what: redis (broker, doorbell, rate "
    "limits), database, or tasks (a task's result did not come in time, or its queue could not take it)",
    ["backend"],
)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class MetricsEndpoint:
    """WSGI middleware: requests that arrive on a metrics port get the metrics, and only they do."""

    def __init__(self, app: WsgiApp, ports: set[str], metrics_app: WsgiApp) -> None:
        self._app = app
        self._ports = ports
        self._metrics_app = metrics_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if str(environ.get("SERVER_PORT")) not in self._ports:
            return self._app(environ, start_response)
        if environ.get("PATH_INFO") in METRICS_PATHS:
            return self._metrics_app(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"this is a metrics listener: GET /metrics\n"]


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _record(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    if started is not None:
        REQUEST_SECONDS.labels(request.method, route).observe(time.perf_counter() - started)
    RESPONSES.labels(request.method, route, str(response.status_code)).inc()
    return response


def install_metrics(app: Flask, config: HomeserverConfig, deps: Deps) -> None:
    """With ``enable_metrics`` and a ``metrics`` listener: time every request and serve ``/metrics`` there."""
    ports = {str(listener.port) for listener in config.metrics_listeners if listener.port is not None}
    if not ports:
        return
    app.before_request(_start_timer)
    app.after_request(_record)
    redis_url = config.redis.url if config.redis.enabled else None
    collectors = deployment_collectors(deps.database, redis_url, config.routing.all_queues(),
                                       config.redis.key_prefix, STREAMS)
    registry = serving_registry(collectors, os.environ.get(MULTIPROCESS_DIR_ENV))
    app.wsgi_app = MetricsEndpoint(app.wsgi_app, ports, make_wsgi_app(registry))  # type: ignore[method-assign]
