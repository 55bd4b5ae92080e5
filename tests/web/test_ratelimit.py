"""Rate limits answer 429 M_LIMIT_EXCEEDED with retry_after_ms, and recover as time passes."""

from __future__ import annotations

from tests.homeserver import PASSWORD


def test_failed_logins_are_limited_per_account(make_homeserver) -> None:  # type: ignore[no-untyped-def]
    server = make_homeserver(rc_login={"failed_attempts": {"per_second": 0.1, "burst_count": 2},
                                       "address": {"per_second": 1000, "burst_count": 1000},
                                       "account": {"per_second": 1000, "burst_count": 1000}})
    server.register("alice")
    bad = {"type": "m.login.password", "user": "alice", "password": "wrong"}
    assert [server.post("/_matrix/client/v3/login", json=bad).status_code for _ in range(2)] == [403, 403]
    limited = server.post("/_matrix/client/v3/login", json=bad)
    assert limited.status_code == 429
    assert limited.json["errcode"] == "M_LIMIT_EXCEEDED"
    assert 0 < limited.json["retry_after_ms"] <= 10_000
    assert int(limited.headers["Retry-After"]) >= 1
    server.clock.advance(limited.json["retry_after_ms"])
    good = {"type": "m.login.password", "user": "alice", "password": PASSWORD}
    assert server.post("/_matrix/client/v3/login", json=good).status_code == 200


def test_registration_is_limited_per_address(make_homeserver) -> None:  # type: ignore[no-untyped-def]
    server = make_homeserver(rc_registration={"per_second": 0.5, "burst_count": 1})
    assert server.post("/_matrix/client/v3/register", json={"username": "a", "password": "p"}).status_code == 401
    limited = server.post("/_matrix/client/v3/register", json={"username": "b", "password": "p"})
    assert limited.status_code == 429
    assert limited.json["retry_after_ms"] == 2000
    server.clock.advance(2000)
    assert server.post("/_matrix/client/v3/register", json={"username": "b", "password": "p"}).status_code == 401


def test_a_zero_rate_switches_the_limit_off(make_homeserver) -> None:  # type: ignore[no-untyped-def]
    server = make_homeserver(rc_registration={"per_second": 0, "burst_count": 0})
    statuses = {server.post("/_matrix/client/v3/register", json={}).status_code for _ in range(5)}
    assert statuses == {401}
