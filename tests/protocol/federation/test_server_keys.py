"""Published server keys: validating a response and when a key may verify a signature
(Server-Server API, "Retrieving server keys")."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.federation.server_keys import (
    MAX_KEY_VALIDITY_MS,
    InvalidKeyResponse,
    our_key_response,
    parse_key_response,
    parse_notary_query,
)
from protocol.signing import encode_verify_key, generate_signing_key, sign_json, verify_key_of

NOW = 1_700_000_000_000
KEY = generate_signing_key("new")
OLD = generate_signing_key("old")


def response(valid_until: int = NOW + 3_600_000, **changes: Any) -> dict[str, Any]:
    return our_key_response("remote.example", KEY, valid_until, {"ed25519:old": (verify_key_of(OLD), NOW - 10)}) \
        if not changes else sign_json({**_unsigned(valid_until), **changes}, "remote.example", KEY)


def _unsigned(valid_until: int) -> dict[str, Any]:
    return {"server_name": "remote.example", "valid_until_ts": valid_until, "old_verify_keys": {},
            "verify_keys": {"ed25519:new": {"key": encode_verify_key(verify_key_of(KEY))}}}


def test_current_keys_are_valid_until_valid_until_ts_and_old_ones_before_expired_ts() -> None:
    parsed = parse_key_response(response(), "remote.example", NOW)
    keys = {key.key_id: key for key in parsed.keys}
    assert keys["ed25519:new"].valid_at(NOW + 3_600_000)
    assert not keys["ed25519:new"].valid_at(NOW + 3_600_001)
    assert keys["ed25519:old"].expired and keys["ed25519:old"].valid_at(NOW - 11)
    assert not keys["ed25519:old"].valid_at(NOW - 10)
    assert parsed.signed["signatures"]["remote.example"]


def test_validity_is_capped_at_seven_days_after_fetching() -> None:
    parsed = parse_key_response(response(NOW + 30 * MAX_KEY_VALIDITY_MS), "remote.example", NOW)
    assert parsed.keys[0].valid_until_ts == NOW + MAX_KEY_VALIDITY_MS
    assert parsed.valid_until_ts == NOW + 30 * MAX_KEY_VALIDITY_MS


def test_a_response_for_another_server_is_rejected() -> None:
    with pytest.raises(InvalidKeyResponse):
        parse_key_response(response(), "other.example", NOW)


def test_a_response_not_signed_by_a_listed_key_is_rejected() -> None:
    forged = sign_json(_unsigned(NOW + 1000), "remote.example", generate_signing_key("new"))
    with pytest.raises(InvalidKeyResponse):
        parse_key_response(forged, "remote.example", NOW)
    unsigned = _unsigned(NOW + 1000)
    with pytest.raises(InvalidKeyResponse):
        parse_key_response(unsigned, "remote.example", NOW)


def test_a_tampered_response_is_rejected() -> None:
    tampered = {**response(), "valid_until_ts": NOW + 10 * 3_600_000}
    with pytest.raises(InvalidKeyResponse):
        parse_key_response(tampered, "remote.example", NOW)


@pytest.mark.parametrize("changes", [
    {"verify_keys": "nope"}, {"verify_keys": {"ed25519:new": {}}}, {"valid_until_ts": "soon"},
    {"old_verify_keys": {"ed25519:x": {"key": "AAAA", "expired_ts": "x"}}},
    {"verify_keys": {"rsa:1": {"key": "AAAA"}}},
])
def test_malformed_responses_are_rejected(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidKeyResponse):
        parse_key_response({**response(), **changes}, "remote.example", NOW)


def test_notary_queries_default_the_minimum_to_zero_and_reject_bad_shapes() -> None:
    assert parse_notary_query({"server_keys": {"a": {"ed25519:1": {}}, "b": {}}}) == {"a": {"ed25519:1": 0}, "b": {}}
    assert parse_notary_query({"server_keys": {"a": {"k": {"minimum_valid_until_ts": 5}}}}) == {"a": {"k": 5}}
    for bad in ({}, {"server_keys": []}, {"server_keys": {"a": []}},
                {"server_keys": {"a": {"k": {"minimum_valid_until_ts": "x"}}}}):
        with pytest.raises(ValueError):
            parse_notary_query(bad)
