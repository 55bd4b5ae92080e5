"""Signing JSON (spec: Appendices, "Signing JSON", "Checking for a Signature", "Cryptographic Test Vectors")."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given

from protocol.signing import (
    InvalidSignature,
    decode_signing_key,
    decode_verify_key,
    encode_signing_key,
    encode_verify_key,
    generate_signing_key,
    key_id_of,
    sign_json,
    signature_key_ids,
    signing_key_from_seed,
    verify_json,
    verify_key_of,
)
from tests.protocol.strategies import json_objects, json_values
from tests.protocol.vectors import KEY_ID, SERVER_NAME, SIGNING_KEY_SEED, spec_signing_key


def test_spec_vector_signing_an_empty_object() -> None:
    assert sign_json({}, SERVER_NAME, spec_signing_key()) == {
        "signatures": {
            "domain": {
                "ed25519:1": "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"
            }
        }
    }


def test_spec_vector_signing_an_object_with_data() -> None:
    assert sign_json({"one": 1, "two": "Two"}, SERVER_NAME, spec_signing_key()) == {
        "one": 1,
        "signatures": {
            "domain": {
                "ed25519:1": "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
            }
        },
        "two": "Two",
    }


def test_signing_leaves_the_input_untouched_and_keeps_other_signatures_and_unsigned() -> None:
    original = {"a": 1, "signatures": {"other.org": {"ed25519:x": "sig"}}, "unsigned": {"age": 5}}
    before = copy.deepcopy(original)
    signed = sign_json(original, SERVER_NAME, spec_signing_key())
    assert original == before
    assert signed["signatures"]["other.org"] == {"ed25519:x": "sig"}
    assert set(signed["signatures"]["domain"]) == {KEY_ID}
    assert signed["unsigned"] == {"age": 5}


def test_signatures_ignore_unsigned_and_other_signers() -> None:
    key = spec_signing_key()
    signed = sign_json({"one": 1, "two": "Two"}, SERVER_NAME, key)
    signed["unsigned"] = {"age_ts": 1}
    signed = sign_json(signed, "other.org", generate_signing_key("k"))
    verify_json(signed, SERVER_NAME, verify_key_of(key))


def test_tampered_objects_do_not_verify() -> None:
    key = spec_signing_key()
    signed = sign_json({"one": 1}, SERVER_NAME, key)
    with pytest.raises(InvalidSignature):
        verify_json({**signed, "one": 2}, SERVER_NAME, verify_key_of(key))
    with pytest.raises(InvalidSignature):
        verify_json(signed, SERVER_NAME, verify_key_of(generate_signing_key("1")))


@pytest.mark.parametrize(
    "signatures",
    [None, {}, {"domain": {}}, {"domain": {"ed25519:1": "not base64!"}}, {"domain": {"ed25519:1": 7}}, {"domain": 1}],
)
def test_missing_or_malformed_signatures_do_not_verify(signatures: Any) -> None:
    value: dict[str, Any] = {"one": 1}
    if signatures is not None:
        value["signatures"] = signatures
    with pytest.raises(InvalidSignature):
        verify_json(value, SERVER_NAME, verify_key_of(spec_signing_key()))


@pytest.mark.parametrize("signatures", [None, [], {"domain": "sig"}])
def test_signing_refuses_malformed_existing_signatures(signatures: Any) -> None:
    with pytest.raises(ValueError):
        sign_json({"signatures": signatures}, SERVER_NAME, spec_signing_key())


def test_signature_key_ids_keep_only_understood_algorithms() -> None:
    value = {"signatures": {"domain": {"ed25519:1": "a", "curve25519:2": "b", "ed25519:new": "c"}}}
    assert sorted(signature_key_ids(value, "domain")) == ["ed25519:1", "ed25519:new"]
    assert signature_key_ids(value, "elsewhere") == []
    assert signature_key_ids({"signatures": "nonsense"}, "domain") == []


def test_keys_round_trip_through_their_published_and_stored_forms() -> None:
    key = spec_signing_key()
    assert key_id_of(key) == KEY_ID
    # The spec writes the seed with non-zero unused trailing bits ("...XA1"); the canonical encoding ends "...XA0".
    assert encode_signing_key(key) == "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0"
    assert encode_signing_key(decode_signing_key(KEY_ID, encode_signing_key(key))) == encode_signing_key(key)
    verify_key = verify_key_of(key)
    assert key_id_of(verify_key) == KEY_ID
    published = decode_verify_key(KEY_ID, encode_verify_key(verify_key))
    verify_json(sign_json({"x": 1}, SERVER_NAME, key), SERVER_NAME, published)


@pytest.mark.parametrize("key_id", ["ed25519", "ed25519:", "curve25519:1", ":1"])
def test_key_identifiers_must_name_ed25519_and_a_version(key_id: str) -> None:
    with pytest.raises(ValueError):
        signing_key_from_seed(SIGNING_KEY_SEED, key_id)


@given(json_objects, json_values)
def test_anything_signed_verifies_whatever_is_put_in_unsigned(value: dict[str, Any], unsigned: Any) -> None:
    key = spec_signing_key()
    signed = sign_json(value, SERVER_NAME, key)
    verify_json({**signed, "unsigned": unsigned}, SERVER_NAME, verify_key_of(key))
