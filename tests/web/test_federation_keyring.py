"""The remote key cache of a running server (``deps.federation.keyring``), against a real HTTPS key server:
fetched on demand, cached while valid, fetched again after ``valid_until_ts`` (capped at seven days), old keys
honoured until ``expired_ts``, and a trusted notary used when the server itself cannot be reached."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from protocol.federation.server_keys import our_key_response
from protocol.signing import SigningKey, encode_verify_key, generate_signing_key, sign_json, verify_key_of
from tests.conftest import HomeserverFactory
from tests.federation_client.tls_servers import LocalCa, RecordingServer, https_server, json_route, make_ca
from tests.homeserver import HomeserverUnderTest

REMOTE, NOTARY = "keys.test", "notary.test"
FIRST, SECOND = generate_signing_key("k1"), generate_signing_key("k2")
NOTARY_KEY = generate_signing_key("n1")
KEYS = "/_matrix/key/v2/server"
DAY_MS = 24 * 3_600_000


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCa:
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def key_server(ca: LocalCa) -> Iterator[RecordingServer]:
    with https_server(ca, ["127.0.0.1"], {}) as server:
        yield server


def serving(make_homeserver: HomeserverFactory, ca: LocalCa, hosts: dict[str, str], **data: Any) -> HomeserverUnderTest:
    return make_homeserver(ip_range_whitelist=["127.0.0.0/8"], federation_custom_ca_list=[str(ca.ca_file)],
                           federation_test_hosts=hosts, **data)


def publish(server: RecordingServer, key: SigningKey, valid_until: int,
            old: dict[str, tuple[Any, int]] | None = None) -> dict[str, Any]:
    response = our_key_response(REMOTE, key, valid_until, old or {})
    server.routes[KEYS] = json_route(response)
    return response


def fetches(server: RecordingServer) -> int:
    return sum(1 for _, path, _ in server.requests if path == KEYS)


def test_keys_are_fetched_once_and_used_while_valid(make_homeserver: HomeserverFactory, ca: LocalCa,
                                                    key_server: RecordingServer) -> None:
    homeserver = serving(make_homeserver, ca, {REMOTE: f"https://127.0.0.1:{key_server.port}"})
    keyring, now = homeserver.deps.federation.keyring, homeserver.clock.now_ms()
    publish(key_server, FIRST, now + 60_000)
    assert keyring.verify_key(REMOTE, "ed25519:k1") == verify_key_of(FIRST)
    assert keyring.verify_key(REMOTE, "ed25519:k1") == verify_key_of(FIRST)
    assert fetches(key_server) == 1
    # Past valid_until_ts the key is fetched again; the server rotated, listing the first key as old.
    publish(key_server, SECOND, now + 120_000, {"ed25519:k1": (verify_key_of(FIRST), now + 30_000)})
    homeserver.clock.advance(60_001)
    assert keyring.verify_key(REMOTE, "ed25519:k1") is None
    assert keyring.verify_key(REMOTE, "ed25519:k1", at_ts=now + 29_999) == verify_key_of(FIRST)
    assert keyring.verify_key(REMOTE, "ed25519:k2") == verify_key_of(SECOND)
    assert fetches(key_server) == 2


def test_validity_is_capped_at_seven_days(make_homeserver: HomeserverFactory, ca: LocalCa,
                                          key_server: RecordingServer) -> None:
    homeserver = serving(make_homeserver, ca, {REMOTE: f"https://127.0.0.1:{key_server.port}"})
    keyring = homeserver.deps.federation.keyring
    publish(key_server, FIRST, homeserver.clock.now_ms() + 365 * DAY_MS)
    assert keyring.verify_key(REMOTE, "ed25519:k1") is not None
    homeserver.clock.advance(7 * DAY_MS + 1)
    assert keyring.verify_key(REMOTE, "ed25519:k1") is not None
    assert fetches(key_server) == 2


@pytest.mark.parametrize("forgery", ["other server", "bad signature"])
def test_an_invalid_key_response_is_not_used(make_homeserver: HomeserverFactory, ca: LocalCa,
                                             key_server: RecordingServer, forgery: str) -> None:
    homeserver = serving(make_homeserver, ca, {REMOTE: f"https://127.0.0.1:{key_server.port}"})
    response = publish(key_server, FIRST, homeserver.clock.now_ms() + 60_000)
    if forgery == "other server":
        key_server.routes[KEYS] = json_route(our_key_response("elsewhere.test", FIRST, response["valid_until_ts"], {}))
    else:
        key_server.routes[KEYS] = json_route({**response, "valid_until_ts": response["valid_until_ts"] + 1})
    assert homeserver.deps.federation.keyring.verify_key(REMOTE, "ed25519:k1") is None


def notary_answer(server: RecordingServer, valid_until: int, signer: SigningKey) -> None:
    relayed = sign_json(our_key_response(REMOTE, FIRST, valid_until, {}), NOTARY, signer)
    server.routes["/_matrix/key/v2/query"] = json_route({"server_keys": [relayed]})


@pytest.mark.parametrize("signer, trusted", [(NOTARY_KEY, True), (generate_signing_key("n1"), False)])
def test_a_trusted_notary_supplies_keys_the_server_cannot(make_homeserver: HomeserverFactory, ca: LocalCa,
                                                          key_server: RecordingServer, signer: SigningKey,
                                                          trusted: bool) -> None:
    homeserver = serving(
        make_homeserver, ca, {REMOTE: "http://127.0.0.1:9", NOTARY: f"https://127.0.0.1:{key_server.port}"},
        trusted_key_servers=[{"server_name": NOTARY,
                              "verify_keys": {"ed25519:n1": encode_verify_key(verify_key_of(NOTARY_KEY))}}])
    notary_answer(key_server, homeserver.clock.now_ms() + 60_000, signer)
    found = homeserver.deps.federation.keyring.verify_key(REMOTE, "ed25519:k1")
    assert (found == verify_key_of(FIRST)) is trusted
    [(method, path, _)] = key_server.requests
    assert (method, path) == ("POST", "/_matrix/key/v2/query")


def test_missing_keys_are_not_fetched_again_within_thirty_seconds(make_homeserver: HomeserverFactory, ca: LocalCa,
                                                                  key_server: RecordingServer) -> None:
    homeserver = serving(make_homeserver, ca, {REMOTE: f"https://127.0.0.1:{key_server.port}"})
    keyring = homeserver.deps.federation.keyring
    publish(key_server, FIRST, homeserver.clock.now_ms() + DAY_MS)
    for made_up in ("ed25519:x1", "ed25519:x2", "ed25519:x3"):
        assert keyring.verify_key(REMOTE, made_up) is None
    assert keyring.verify_key(REMOTE, "ed25519:k1") == verify_key_of(FIRST)  # cached by the first fetch
    assert fetches(key_server) == 1
    homeserver.clock.advance(30_000)
    assert keyring.verify_key(REMOTE, "ed25519:x4") is None
    assert fetches(key_server) == 2


def test_a_request_needing_a_key_while_it_is_being_fetched_waits_for_that_fetch(
        make_homeserver: HomeserverFactory, ca: LocalCa, key_server: RecordingServer) -> None:
    """Two requests signed with a key not yet cached (say, the events of a ``send_join`` answer checked while an
    inbound request from that server is being authenticated): the second must not find the first's attempt
    "recent" and fail, but wait for its fetch."""
    homeserver = serving(make_homeserver, ca, {REMOTE: f"https://127.0.0.1:{key_server.port}"})
    keyring = homeserver.deps.federation.keyring
    publish(key_server, FIRST, homeserver.clock.now_ms() + 60_000)
    fetching, release = threading.Event(), threading.Event()
    fetch = keyring.refresh

    def held_fetch(server_name: str, wanted: dict[str, int]) -> Any:
        fetching.set()
        release.wait(timeout=10)  # the network is slow: the fetch is still in flight when the second one asks
        return fetch(server_name, wanted)

    keyring.refresh = held_fetch  # type: ignore[method-assign]
    found: dict[str, Any] = {}
    first = threading.Thread(target=lambda: found.update(first=keyring.verify_key(REMOTE, "ed25519:k1")))
    first.start()
    assert fetching.wait(timeout=10)
    second = threading.Thread(target=lambda: found.update(second=keyring.verify_key(REMOTE, "ed25519:k1")))
    second.start()
    second.join(timeout=0.5)
    release.set()
    first.join(timeout=10)
    second.join(timeout=10)
    assert found == {"first": verify_key_of(FIRST), "second": verify_key_of(FIRST)}
    assert fetches(key_server) == 1
