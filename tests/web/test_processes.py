"""What only shows with more than one process, or another database under the same shape."""

from __future__ import annotations

import pytest

from config import parse_config
from ganglion.wiring import build_monolith, build_web_worker
from persistence.doorbell import RedisDoorbell
from tests.clock import FakeClock
from tests.conftest import _data_for, _reset_postgres
from tests.homeserver import HomeserverUnderTest
from web.app import create_app

WHOAMI = "/_matrix/client/v3/account/whoami"


def test_logout_on_one_web_worker_evicts_the_token_cached_by_another(
    pg_database_name: str, redis_db: int, celery_worker: object
) -> None:
    config = parse_config(_data_for("workers", pg_database_name, redis_db))
    servers = []
    for _ in range(2):
        deps = build_web_worker(config, FakeClock())
        servers.append(HomeserverUnderTest("workers", config, deps, create_app(config, deps), deps.clock))
    worker_a, worker_b = servers
    _reset_postgres(worker_a.deps.database)
    for server in servers:
        doorbell = server.deps.doorbell
        assert isinstance(doorbell, RedisDoorbell) and doorbell.wait_subscribed(5)
    try:
        session = worker_a.register("alice")
        token = session["access_token"]
        assert worker_b.get(WHOAMI, token=token).status_code == 200  # now cached in worker B
        assert worker_a.post("/_matrix/client/v3/logout", token=token).status_code == 200
        rejected = worker_b.eventually(lambda: worker_b.get(WHOAMI, token=token).status_code == 401, timeout=5)
        assert rejected
    finally:
        for server in servers:
            server.deps.doorbell.close()
            server.deps.database.dispose()


def test_the_monolith_runs_on_postgresql_too(pg_database_name: str) -> None:
    data = _data_for("workers", pg_database_name, 0)
    data["redis"] = {"enabled": False}
    config = parse_config(data)
    monolith = build_monolith(config, FakeClock())
    _reset_postgres(monolith.deps.database)
    app = create_app(config, monolith.deps)
    server = HomeserverUnderTest("monolith", config, monolith.deps, app, monolith.deps.clock)
    try:
        session = server.register("bob")
        assert server.get(WHOAMI, token=session["access_token"]).json["user_id"] == "@bob:test.local"
        with server.deps.database.read() as conn:
            changes = server.deps.stores.device_lists.list_changes(conn, "@bob:test.local")
        assert [change.device_id for change in changes] == [session["device_id"]]
    finally:
        server.deps.database.dispose()


def test_last_seen_is_recorded_but_not_on_every_request(homeserver: HomeserverUnderTest) -> None:
    session = homeserver.register("carol")
    token = session["access_token"]
    homeserver.clock.advance(60_000)
    homeserver.get(WHOAMI, token=token)
    first_seen = homeserver.get(f"/_matrix/client/v3/devices/{session['device_id']}", token=token).json
    homeserver.clock.advance(60_000)
    homeserver.get(WHOAMI, token=token)
    unchanged = homeserver.get(f"/_matrix/client/v3/devices/{session['device_id']}", token=token).json
    assert unchanged["last_seen_ts"] == first_seen["last_seen_ts"]
    homeserver.clock.advance(5 * 60_000)
    homeserver.get(WHOAMI, token=token)
    later = homeserver.get(f"/_matrix/client/v3/devices/{session['device_id']}", token=token).json
    assert later["last_seen_ts"] > first_seen["last_seen_ts"]
    assert later["last_seen_ip"] == "127.0.0.1"


@pytest.mark.parametrize("path", ["/_matrix/client/v3/nonsense", "/_matrix/client/v3/account/whoami/extra"])
def test_unknown_endpoints_are_unrecognized(homeserver: HomeserverUnderTest, path: str) -> None:
    response = homeserver.get(path)
    assert (response.status_code, response.json["errcode"]) == (404, "M_UNRECOGNIZED")
