"""``/metrics``: request latency by route template, responses by status, queue depths and stream positions, served
only on a ``metrics`` listener and only with ``enable_metrics``."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import HomeserverFactory

METRICS_PORT = 9189
LISTENERS = [{"port": 8008, "type": "http", "resources": [{"names": ["client"]}]},
             {"port": METRICS_PORT, "type": "metrics", "bind_address": "127.0.0.1"}]


def _scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_requests_are_timed_by_route_template_and_served_on_the_metrics_port(
        make_homeserver: HomeserverFactory) -> None:
    server = make_homeserver(enable_metrics=True, listeners=LISTENERS)
    alice = server.register("metrics_alice")
    assert server.get("/_matrix/client/v3/profile/@nobody:test.local", token=alice["access_token"]).status_code == 404
    assert server.get("/_matrix/client/versions").status_code == 200
    created = server.post("/_matrix/client/v3/createRoom", json={}, token=alice["access_token"])
    assert created.status_code == 200, "the events writer commits: its stream position is reported"

    response = server.client.get("/metrics", base_url=f"http://localhost:{METRICS_PORT}")
    assert response.status_code == 200
    samples = _scrape(response.get_data(as_text=True))
    routes = {dict(labels).get("route") for (name, labels) in samples if name.startswith("ganglion_http_")}
    profile_route = next(found for found in routes if found and found.endswith("/profile/<user_id>"))
    assert samples[("ganglion_http_responses_total",
                    (("method", "GET"), ("route", profile_route), ("status", "404")))] >= 1
    assert samples[("ganglion_http_request_duration_seconds_count",
                    (("method", "GET"), ("route", "/_matrix/client/versions")))] >= 1
    assert samples[("ganglion_stream_position", (("stream", "events"), ("writer", "main")))] > 0
    assert samples[("ganglion_stream_writer_lag", (("stream", "events"), ("writer", "main")))] == 0
    if server.shape == "workers":
        assert (("ganglion_queue_depth", (("queue", "events.main"),))) in samples


def test_metrics_stay_off_the_client_port_and_off_without_enable_metrics(make_homeserver: HomeserverFactory) -> None:
    server = make_homeserver(enable_metrics=True, listeners=LISTENERS)
    assert server.get("/metrics").json["errcode"] == "M_UNRECOGNIZED"
    other = server.client.get("/_matrix/client/versions", base_url=f"http://localhost:{METRICS_PORT}")
    assert other.status_code == 404, "a metrics listener serves nothing else"
    assert server.client.get("/_synapse/metrics", base_url=f"http://localhost:{METRICS_PORT}").status_code == 200
    disabled = make_homeserver(listeners=LISTENERS)
    assert disabled.client.get("/metrics", base_url=f"http://localhost:{METRICS_PORT}").status_code == 404
