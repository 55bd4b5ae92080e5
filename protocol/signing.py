"""Signing JSON: ed25519 keys and the signatures that travel inside JSON objects.

Spec: Appendices, "Signing JSON" and "Checking for a Signature". The cryptography and the exact signing procedure
come from the ecosystem's ``signedjson`` (over ``pynacl``); this module gives the rest of Ganglion a small surface
that never mutates its arguments and reports failures with one exception type of ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from signedjson.key import (
    NACL_ED25519,
    decode_signing_key_base64,
    decode_verify_key_base64,
    encode_signing_key_base64,
    encode_verify_key_base64,
    get_verify_key,
    is_signing_algorithm_supported,
)
from signedjson.key import generate_signing_key as _generate_signing_key
from signedjson.sign import SignatureVerifyException, signature_ids, verify_signed_json
from signedjson.sign import sign_json as _sign_json
from signedjson.types import SigningKey, VerifyKey
from unpaddedbase64 import encode_base64

from protocol.canonical_json import JsonDict

__all__ = [
    "InvalidSignature",
    "SigningKey",
    "VerifyKey",
    "decode_signing_key",
    "decode_verify_key",
    "encode_signing_key",
    "encode_verify_key",
    "generate_signing_key",
    "key_id_of",
    "sign_json",
    "signature_key_ids",
    "signing_key_from_seed",
    "verify_json",
    "verify_key_of",
]


class InvalidSignature(ValueError):
    """A signature is missing, malformed or does not verify."""


def _split_key_id(key_id: str) -> tuple[str, str]:
    """``"ed25519:abc"`` -> ``("ed25519", "abc")``; a signing key identifier is algorithm ":" key identifier."""
    algorithm, colon, version = key_id.partition(":")
    if not colon or not version:
        raise ValueError(f"not a signing key identifier: {key_id!r}")
    if algorithm != NACL_ED25519:
        raise ValueError(f"unsupported signing algorithm: {algorithm!r}")
    return algorithm, version


def signing_key_from_seed(seed: bytes, key_id: str) -> SigningKey:
    """The ed25519 signing key with this 32-byte seed, named ``key_id`` (e.g. ``"ed25519:1"``)."""
    _split_key_id(key_id)
    return decode_signing_key(key_id, encode_base64(seed))


def decode_signing_key(key_id: str, seed_base64: str) -> SigningKey:
    """A signing key from its identifier and unpadded-Base64 seed, as Synapse's ``signing.key`` file stores it."""
    algorithm, version = _split_key_id(key_id)
    return decode_signing_key_base64(algorithm, version, seed_base64)


def encode_signing_key(signing_key: SigningKey) -> str:
    """The unpadded-Base64 seed of ``signing_key``: the secret to store."""
    return encode_signing_key_base64(signing_key)


def generate_signing_key(version: str) -> SigningKey:
    """A fresh random ed25519 key whose identifier will be ``ed25519:<version>``."""
    return _generate_signing_key(version)


def verify_key_of(signing_key: SigningKey) -> VerifyKey:
    """The public half of ``signing_key``, carrying the same identifier."""
    return get_verify_key(signing_key)


def decode_verify_key(key_id: str, key_base64: str) -> VerifyKey:
    """A verify key as published under ``verify_keys`` (spec: Server-Server API, "Publishing Keys")."""
    algorithm, version = _split_key_id(key_id)
    return decode_verify_key_base64(algorithm, version, key_base64)


def encode_verify_key(verify_key: VerifyKey) -> str:
    """The unpadded-Base64 public key, as published under ``verify_keys``."""
    return encode_verify_key_base64(verify_key)


def key_id_of(key: SigningKey | VerifyKey) -> str:
    """The signing key identifier: algorithm, ``:``, key identifier (spec: Appendices, "Signing Details")."""
    return f"{key.alg}:{key.version}"


def sign_json(value: Mapping[str, Any], signing_name: str, signing_key: SigningKey) -> JsonDict:
    """A copy of ``value`` with this entity's signature added to ``signatures``; existing signatures are kept.

    The signature covers the canonical JSON of the object without ``signatures`` and ``unsigned`` (spec:
    Appendices, "Signing Details"). Raises ValueError when an existing ``signatures`` is not shaped as
    name -> key id -> signature.
    """
    copy = dict(value)
    signatures = copy.get("signatures", {})
    if not isinstance(signatures, Mapping) or not all(isinstance(ids, Mapping) for ids in signatures.values()):
        raise ValueError("'signatures' must map entity names to objects of signatures")
    # signedjson adds to the nested signature maps in place: copy them so the caller's object stays untouched.
    copy["signatures"] = {name: dict(ids) for name, ids in signatures.items()}
    return _sign_json(copy, signing_name, signing_key)


def signature_key_ids(value: Mapping[str, Any], signing_name: str) -> list[str]:
    """The key identifiers ``signing_name`` signed ``value`` with, keeping only algorithms we understand.

    Steps 1 and 2 of "Checking for a Signature" (spec: Appendices): the caller then looks up verification keys.
    """
    signatures = value.get("signatures")
    if not isinstance(signatures, Mapping) or not isinstance(signatures.get(signing_name), Mapping):
        return []
    return [key_id for key_id in signature_ids(dict(value), signing_name) if is_signing_algorithm_supported(key_id)]


def verify_json(value: Mapping[str, Any], signing_name: str, verify_key: VerifyKey) -> None:
    """Raise :class:`InvalidSignature` unless ``signing_name`` signed ``value`` with ``verify_key``.

    Steps 4-7 of "Checking for a Signature" (spec: Appendices): decode the signature, drop ``signatures`` and
    ``unsigned``, and check the signature over the canonical JSON of the rest.
    """
    try:
        verify_signed_json(dict(value), signing_name, verify_key)
    except SignatureVerifyException as exc:
        raise InvalidSignature(str(exc)) from exc
    except (TypeError, AttributeError) as exc:  # signatures present but not shaped as name -> key id -> string
        raise InvalidSignature(f"Malformed signatures for {signing_name}") from exc
