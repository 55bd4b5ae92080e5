"""Other servers' signing keys: from the cache, else fetched from the server, else through the trusted notaries.

Spec: Server-Server API, "Retrieving server keys". A cached key is used while it is valid at the moment asked
about; past that it is fetched again. Our own current and old keys never leave the process.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from config.federation import FederationConfig, TrustedKeyServer
from federation_client.client import FederationClient
from federation_client.errors import FederationError
from persistence.database import Database
from persistence.stores import Stores
from protocol.canonical_json import JsonDict
from protocol.clock import Clock
from protocol.federation.server_keys import InvalidKeyResponse, KeyResponse, ServerKey, parse_key_response
from protocol.signing import InvalidSignature, SigningKey, VerifyKey, key_id_of, verify_json, verify_key_of

logger = logging.getLogger(__name__)

MIN_REFETCH_INTERVAL_MS = 30_000
"""A key missing from the cache is fetched at most this often per server and process: requests naming made-up key
ids, or an unreachable origin, must not turn every inbound request into outbound fetches (and their timeouts)."""


class Keyring:
    def __init__(self, server_name: str, signing_key: SigningKey, config: FederationConfig, database: Database,
                 stores: Stores, clock: Clock, client: FederationClient) -> None:
        self._server_name = server_name
        self._signing_key = signing_key
        self._config = config
        self._database = database
        self._stores = stores
        self._clock = clock
        self._client = client
        self._last_attempt: dict[str, int] = {}
        self._fetch_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def verify_key(self, server_name: str, key_id: str, at_ts: int | None = None) -> VerifyKey | None:
        """The key ``server_name`` signed with as ``key_id``, if it was valid at ``at_ts`` (default now)."""
        at_ts = self._clock.now_ms() if at_ts is None else at_ts
        if server_name == self._server_name:
            return self._own_key(key_id, at_ts)
        key = self._cached(server_name, key_id)
        if key is not None and key.valid_at(at_ts):
            return key.verify_key
        # One fetch per server at a time: a request that needs the key while another request's fetch of it is in
        # flight waits for that fetch and reads what it cached, instead of finding the attempt "recent" and failing.
        with self._fetch_lock(server_name):
            key = self._cached(server_name, key_id)
            if key is not None and key.valid_at(at_ts):
                return key.verify_key
            now = self._clock.now_ms()
            if now - self._last_attempt.get(server_name, now - MIN_REFETCH_INTERVAL_MS) < MIN_REFETCH_INTERVAL_MS:
                return None
            self._last_attempt[server_name] = now
            self.refresh(server_name, {key_id: at_ts})
            key = self._cached(server_name, key_id)
        return key.verify_key if key is not None and key.valid_at(at_ts) else None

    def _fetch_lock(self, server_name: str) -> threading.Lock:
        with self._locks_guard:
            return self._fetch_locks.setdefault(server_name, threading.Lock())

    def refresh(self, server_name: str, wanted: dict[str, int]) -> list[KeyResponse]:
        """Fetch ``server_name``'s keys (``wanted``: key id -> minimum valid_until_ts) directly, then through each
        notary until one gives what is wanted; every valid response is cached. Returns what was fetched."""
        fetched: list[KeyResponse] = []
        direct = self._fetch_direct(server_name)
        if direct is not None:
            fetched.append(direct)
            if _satisfies(direct, wanted):
                return fetched
        for notary in self._config.trusted_key_servers:
            responses = self._fetch_via_notary(notary, server_name, wanted)
            fetched.extend(responses)
            if any(_satisfies(response, wanted) for response in responses):
                break
        return fetched

    def cached_responses(self, server_name: str) -> list[tuple[int, JsonDict]]:
        """(published valid_until_ts, signed response) of every cached response for ``server_name``."""
        with self._database.read() as conn:
            stored = self._stores.server_keys.get_responses(conn, server_name)
        return [(item.published_valid_until_ts, item.key_json) for item in stored]

    def _own_key(self, key_id: str, at_ts: int) -> VerifyKey | None:
        if key_id == key_id_of(self._signing_key):
            return verify_key_of(self._signing_key)
        for old in self._config.old_signing_keys:
            if old.key_id == key_id and at_ts < old.expired_ts:
                return old.verify_key
        return None

    def _cached(self, server_name: str, key_id: str) -> ServerKey | None:
        with self._database.read() as conn:
            return self._stores.server_keys.get_key(conn, server_name, key_id)

    def _store(self, response: KeyResponse, fetched_ts: int, fetched_from: str) -> None:
        with self._database.write() as conn:
            self._stores.server_keys.store_response(conn, response, fetched_ts, fetched_from)

    def _fetch_direct(self, server_name: str) -> KeyResponse | None:
        fetched_ts = self._clock.now_ms()
        try:
            answer = self._client.get_json(server_name, "/_matrix/key/v2/server", signed=False)
            response = parse_key_response(answer, server_name, fetched_ts)
        except (FederationError, InvalidKeyResponse) as exc:
            logger.info("fetching the keys of %s directly failed: %s", server_name, exc)
            return None
        self._store(response, fetched_ts, server_name)
        return response

    def _fetch_via_notary(self, notary: TrustedKeyServer, server_name: str,
                          wanted: dict[str, int]) -> list[KeyResponse]:
        fetched_ts = self._clock.now_ms()
        query = {"server_keys": {server_name: {key_id: {"minimum_valid_until_ts": minimum}
                                               for key_id, minimum in wanted.items()}}}
        try:
            answer = self._client.post_json(notary.server_name, "/_matrix/key/v2/query", query, signed=False)
        except FederationError as exc:
            logger.info("asking notary %s for the keys of %s failed: %s", notary.server_name, server_name, exc)
            return []
        items = answer.get("server_keys") if isinstance(answer, dict) else None
        responses = []
        for item in items if isinstance(items, list) else []:
            try:
                response = parse_key_response(item, server_name, fetched_ts)
                self._check_notary_signature(notary, item)
            except (InvalidKeyResponse, InvalidSignature) as exc:
                logger.info("notary %s gave unusable keys for %s: %s", notary.server_name, server_name, exc)
                continue
            self._store(response, fetched_ts, notary.server_name)
            responses.append(response)
        return responses

    def _check_notary_signature(self, notary: TrustedKeyServer, item: dict[str, Any]) -> None:
        """The notary must have signed what it relays, with a configured key or (none configured) its own."""
        signatures = item.get("signatures", {}).get(notary.server_name, {})
        keys = dict(notary.verify_keys)
        for key_id in signatures if isinstance(signatures, dict) else {}:
            key = keys.get(key_id) if keys else self.verify_key(notary.server_name, key_id)
            if key is not None:
                verify_json(item, notary.server_name, key)
                return
        raise InvalidSignature(f"not signed by notary {notary.server_name}")


def _satisfies(response: KeyResponse, wanted: dict[str, int]) -> bool:
    keys = {key.key_id: key for key in response.keys}
    return all(key_id in keys and keys[key_id].valid_at(minimum) for key_id, minimum in wanted.items())

