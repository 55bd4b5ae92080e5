"""A pretend remote server for web tests: its keys seeded into the server's key cache, its requests signed.

No network: ``remote.test`` is mapped (``federation_test_hosts``) to a closed loopback port, so a key the cache
lacks cannot be fetched and the request stays unauthenticated.
"""

from __future__ import annotations

from typing import Any

from werkzeug.test import TestResponse

from protocol.canonical_json import encode_canonical_json
from protocol.federation.request_auth import sign_request
from protocol.federation.server_keys import our_key_response, parse_key_response
from protocol.signing import SigningKey, generate_signing_key
from tests.homeserver import SERVER_NAME, HomeserverUnderTest

REMOTE = "remote.test"
REMOTE_KEY = generate_signing_key("remote1")
CLOSED_PORT_URL = "http://127.0.0.1:9"
FEDERATION_CONFIG: dict[str, Any] = {
    "federation_test_hosts": {REMOTE: CLOSED_PORT_URL},
    "ip_range_whitelist": ["127.0.0.0/8"],
}


def seed_remote_keys(homeserver: HomeserverUnderTest, *, valid_for_ms: int = 3_600_000,
                     key: SigningKey = REMOTE_KEY, server_name: str = REMOTE) -> None:
    """Cache ``server_name``'s key as if fetched now, valid for ``valid_for_ms``."""
    now = homeserver.clock.now_ms()
    response = parse_key_response(our_key_response(server_name, key, now + valid_for_ms, {}), server_name, now)
    with homeserver.deps.database.write() as conn:
        homeserver.deps.stores.server_keys.store_response(conn, response, now, server_name)


def signed_request(homeserver: HomeserverUnderTest, method: str, uri: str, content: Any = None, *,
                   origin: str = REMOTE, destination: str = SERVER_NAME, key: SigningKey = REMOTE_KEY,
                   signed_uri: str | None = None) -> TestResponse:
    """``uri`` as sent, signed as X-Matrix by ``origin`` (over ``signed_uri`` when a test wants a mismatch)."""
    authorization = sign_request(key, method, signed_uri or uri, origin, destination, content)
    data = None if content is None else encode_canonical_json(content)
    return homeserver.request(method, uri, data=data, headers={"Authorization": authorization.to_header()})
