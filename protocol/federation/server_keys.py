"""Published server keys (Server-Server API, "Retrieving server keys") and when a fetched key may be used.

A key response is a signed object ``{server_name, verify_keys, old_verify_keys, valid_until_ts}``. It must be
signed by the server it describes with a key it lists under ``verify_keys``. A current key verifies signatures made
up to its ``valid_until_ts`` (capped at seven days after fetching, as the spec tells servers to do); an old key
only those made before its ``expired_ts``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protocol.canonical_json import JsonDict
from protocol.signing import (
    InvalidSignature,
    SigningKey,
    VerifyKey,
    decode_verify_key,
    encode_verify_key,
    key_id_of,
    sign_json,
    verify_json,
    verify_key_of,
)

MAX_KEY_VALIDITY_MS = 7 * 24 * 60 * 60 * 1000
"""Servers MUST use the lesser of ``valid_until_ts`` and seven days into the future (spec, "Publishing Keys")."""


class InvalidKeyResponse(ValueError):
    """A key response is malformed, describes another server, or is not signed by the server it describes."""


@dataclass(frozen=True)
class ServerKey:
    server_name: str
    key_id: str
    verify_key: VerifyKey
    valid_until_ts: int
    """The last moment (ms) a signature by this key is accepted: min(published, fetched + 7 days) or expired_ts."""
    expired: bool
    """Listed under ``old_verify_keys``: ``valid_until_ts`` holds its ``expired_ts``."""

    def valid_at(self, ts: int) -> bool:
        """Whether a signature made (or checked) at ``ts`` may be verified with this key."""
        return ts < self.valid_until_ts if self.expired else ts <= self.valid_until_ts


@dataclass(frozen=True)
class KeyResponse:
    server_name: str
    keys: tuple[ServerKey, ...]
    valid_until_ts: int
    """As published (uncapped): what a notary compares with ``minimum_valid_until_ts``."""
    signed: JsonDict
    """The response exactly as the server signed it: a notary hands this on with its own signature added."""


def our_key_response(server_name: str, signing_key: SigningKey, valid_until_ts: int,
                     old_keys: Mapping[str, tuple[VerifyKey, int]]) -> JsonDict:
    """Our ``/_matrix/key/v2/server`` answer, signed with ``signing_key``; ``old_keys``: id -> (key, expired_ts)."""
    return sign_json({
        "server_name": server_name,
        "verify_keys": {key_id_of(signing_key): {"key": encode_verify_key(verify_key_of(signing_key))}},
        "old_verify_keys": {key_id: {"key": encode_verify_key(key), "expired_ts": expired_ts}
                            for key_id, (key, expired_ts) in old_keys.items()},
        "valid_until_ts": valid_until_ts,
    }, server_name, signing_key)


def parse_key_response(response: Any, server_name: str, fetched_ts: int) -> KeyResponse:
    """Validate a key response for ``server_name`` fetched at ``fetched_ts``; raise :class:`InvalidKeyResponse`."""
    if not isinstance(response, dict) or response.get("server_name") != server_name:
        raise InvalidKeyResponse(f"key response is not for {server_name}")
    valid_until = response.get("valid_until_ts")
    if not isinstance(valid_until, int) or isinstance(valid_until, bool):
        raise InvalidKeyResponse("valid_until_ts must be an integer")
    current = _decode_keys(response.get("verify_keys"), "verify_keys")
    old = _decode_keys(response.get("old_verify_keys", {}), "old_verify_keys")
    signatures = response.get("signatures")
    by_server = signatures.get(server_name) if isinstance(signatures, dict) else None
    signed_by = [key_id for key_id in (by_server or {}) if key_id in current]
    if not signed_by:
        raise InvalidKeyResponse(f"key response is not signed by a key of {server_name}")
    for key_id in signed_by:
        try:
            verify_json(response, server_name, current[key_id][0])
        except InvalidSignature as exc:
            raise InvalidKeyResponse(f"bad self-signature by {key_id}") from exc
    capped = min(valid_until, fetched_ts + MAX_KEY_VALIDITY_MS)
    keys = [ServerKey(server_name, key_id, key, capped, False) for key_id, (key, _) in current.items()]
    for key_id, (key, expired_ts) in old.items():
        if key_id not in current:
            keys.append(ServerKey(server_name, key_id, key, expired_ts, True))
    return KeyResponse(server_name, tuple(keys), valid_until, response)


def _decode_keys(value: Any, field: str) -> dict[str, tuple[VerifyKey, int]]:
    if not isinstance(value, dict):
        raise InvalidKeyResponse(f"{field} must be an object")
    keys: dict[str, tuple[VerifyKey, int]] = {}
    for key_id, entry in value.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            raise InvalidKeyResponse(f"{field}.{key_id} must hold a key")
        expired_ts = entry.get("expired_ts", 0)
        if field == "old_verify_keys" and (not isinstance(expired_ts, int) or isinstance(expired_ts, bool)):
            raise InvalidKeyResponse(f"{field}.{key_id}.expired_ts must be an integer")
        try:
            keys[key_id] = (decode_verify_key(key_id, entry["key"]), expired_ts)
        except (ValueError, TypeError) as exc:  # unknown algorithm or undecodable key: the response is unusable
            raise InvalidKeyResponse(f"{field}.{key_id}: {exc}") from exc
    return keys


def parse_notary_query(body: Any) -> dict[str, dict[str, int]]:
    """``POST /_matrix/key/v2/query``'s ``server_keys``: server -> key id -> minimum_valid_until_ts (0 if absent).

    An empty key map asks for every key of the server. Raises ValueError on a malformed body.
    """
    if not isinstance(body, dict) or not isinstance(body.get("server_keys"), dict):
        raise ValueError("server_keys must be an object")
    query: dict[str, dict[str, int]] = {}
    for server, wanted in body["server_keys"].items():
        if not isinstance(wanted, dict):
            raise ValueError(f"server_keys.{server} must be an object")
        query[server] = {}
        for key_id, criteria in wanted.items():
            minimum = criteria.get("minimum_valid_until_ts", 0) if isinstance(criteria, dict) else None
            if criteria is not None and (not isinstance(minimum, int) or isinstance(minimum, bool)):
                raise ValueError(f"server_keys.{server}.{key_id}.minimum_valid_until_ts must be an integer")
            query[server][key_id] = minimum or 0
    return query
