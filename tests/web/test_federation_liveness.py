"""A server we were backing off from that reaches us with a signed request is up again: its backoff ends."""

from __future__ import annotations

from tests.conftest import HomeserverFactory
from tests.homeserver import SERVER_NAME
from tests.web.federation_peers import FEDERATION_CONFIG, REMOTE, seed_remote_keys, signed_request

PROFILE = f"/_matrix/federation/v1/query/profile?user_id=%40alice%3A{SERVER_NAME}"


def test_a_signed_request_from_a_backed_off_server_ends_its_backoff(make_homeserver: HomeserverFactory) -> None:
    homeserver = make_homeserver(**FEDERATION_CONFIG)
    seed_remote_keys(homeserver)
    homeserver.register("alice")
    store = homeserver.deps.stores.federation_sending
    with homeserver.deps.database.write() as conn:
        store.lock_destination(conn, REMOTE)
        store.update_destination(conn, REMOTE, retry_at_ts=homeserver.clock.now_ms() + 3_600_000,
                                 retry_interval_ms=3_600_000, failures=5)
    assert signed_request(homeserver, "GET", PROFILE).status_code == 200

    def backoff_over() -> bool:
        with homeserver.deps.database.read() as conn:
            state = store.get_destination(conn, REMOTE)
        return state is not None and (state.retry_at_ts, state.failures) == (None, 0)

    homeserver.eventually(backoff_over)
