"""What only shows with more than one process, or another database under the same shape."""

from __future__ import annotations

import dataclasses

import pytest
import redis

from config import HomeserverConfig, parse_config
from ganglion.wiring import build_monolith, build_web_worker
from persistence.doorbell import RedisDoorbell
from persistence.token_revocations import RedisTokenRevocations
from tests.clock import FakeClock
from tests.conftest import _data_for, _reset_postgres
from tests.e2e.servers import free_port
from tests.homeserver import HomeserverUnderTest
from web.accounts.tokens import hash_token
from web.app import create_app
from web.metrics import UNAVAILABLE

WHOAMI = "/_matrix/client/v3/account/whoami"


def _two_web_workers(config: HomeserverConfig, *, b_reaches_redis: bool) -> list[HomeserverUnderTest]:
    """Two web workers of one deployment. Worker B hears no doorbell (its eviction ring would come too late to
    count anyway) and, unless ``b_reaches_redis``, cannot reach Redis for revocations either."""
    servers = []
    for index in range(2):
        deps = build_web_worker(config, FakeClock())
        if index == 1:
            deps.doorbell.close()
            if not b_reaches_redis:
                unreachable = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
                deps = dataclasses.replace(deps, revocations=RedisTokenRevocations(unreachable, "revoked:"))
        servers.append(HomeserverUnderTest("workers", config, deps, create_app(config, deps), deps.clock))
    _reset_postgres(servers[0].deps.database)
    doorbell = servers[0].deps.doorbell
    assert isinstance(doorbell, RedisDoorbell) and doorbell.wait_subscribed(5)
    return servers


@pytest.mark.parametrize("b_reaches_redis", [True, False], ids=["redis_up", "redis_unreachable"])
def test_a_token_revoked_on_one_web_worker_is_refused_by_another_at_once(
    pg_database_name: str, redis_db: int, celery_worker: object, b_reaches_redis: bool
) -> None:
    config = parse_config(_data_for("workers", pg_database_name, redis_db))
    worker_a, worker_b = servers = _two_web_workers(config, b_reaches_redis=b_reaches_redis)
    try:
        session = worker_a.register("alice")
        token = session["access_token"]
        assert worker_b.get(WHOAMI, token=token).status_code == 200
        if b_reaches_redis:
            assert worker_b.deps.token_cache.get(hash_token(token), worker_b.clock.now_ms()) is not None, "cached"
        assert worker_a.post("/_matrix/client/v3/logout", token=token).status_code == 200
        refused = worker_b.get(WHOAMI, token=token)
        assert (refused.status_code, refused.json["errcode"]) == (401, "M_UNKNOWN_TOKEN")
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


def test_with_redis_unreachable_writes_answer_503_with_retry_after_never_500(
    pg_database_name: str, redis_db: int
) -> None:
    data = _data_for("workers", pg_database_name, redis_db)
    data["redis"] = {**data["redis"], "port": free_port()}
    config = parse_config(data)
    deps = build_web_worker(config, FakeClock())
    server = HomeserverUnderTest("workers", config, deps, create_app(config, deps), deps.clock)
    _reset_postgres(deps.database)
    unavailable_before = UNAVAILABLE.labels("tasks")._value.get()  # type: ignore[attr-defined]
    try:
        token = server.register("dave")["access_token"]
        for response in (server.post("/_matrix/client/v3/createRoom", json={}, token=token),
                         server.put("/_matrix/client/v3/user/@dave:test.local/account_data/m.x", json={"a": 1},
                                    token=token)):
            assert (response.status_code, response.json["errcode"]) == (503, "M_UNKNOWN"), response.json
            assert int(response.headers["Retry-After"]) >= 1
        assert UNAVAILABLE.labels("tasks")._value.get() == unavailable_before + 2  # type: ignore[attr-defined]
    finally:
        deps.doorbell.close()
        deps.database.dispose()
