"""Content hashes and reference hashes of events.

Two hashes with two jobs (spec: Server-Server API, "Signing Events"):

- the *content hash* covers the whole, unredacted event and travels in ``hashes.sha256``; a mismatch tells a
  receiver it was handed a redacted or tampered copy ("Calculating the content hash for an event");
- the *reference hash* covers only the redacted event (which still includes ``hashes``), so it survives
  redaction; from room version 3 it *is* the event id ("Calculating the reference hash for an event").
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Mapping
from typing import Any

from unpaddedbase64 import decode_base64, encode_base64

from protocol.canonical_json import JsonDict, encode_canonical_json
from protocol.redaction import redact_event
from protocol.room_versions import RoomVersion

# Keys that are never hashed: ``unsigned`` changes in transit, ``signatures`` are computed over the hash, and an
# existing ``hashes`` value must not feed into a new one.
_UNHASHED_KEYS = frozenset({"unsigned", "signatures", "hashes"})


def compute_content_hash(event: Mapping[str, Any]) -> bytes:
    """SHA-256 over the canonical JSON of the event without ``unsigned``, ``signatures`` and ``hashes``."""
    hashed = {key: value for key, value in event.items() if key not in _UNHASHED_KEYS}
    return hashlib.sha256(encode_canonical_json(hashed)).digest()


def with_content_hash(event: Mapping[str, Any]) -> JsonDict:
    """A copy of ``event`` whose ``hashes`` holds exactly its content hash (spec: "Adding hashes and signatures")."""
    return {**event, "hashes": {"sha256": encode_base64(compute_content_hash(event))}}


def content_hash_matches(event: Mapping[str, Any]) -> bool:
    """Whether ``hashes.sha256`` is the content hash of ``event``.

    False also when the hash is missing or not Base64. A receiver that gets False must continue with the redacted
    event instead (spec: Server-Server API, "Validating hashes and signatures on received events").
    """
    hashes = event.get("hashes")
    claimed = hashes.get("sha256") if isinstance(hashes, Mapping) else None
    if not isinstance(claimed, str):
        return False
    try:
        expected = decode_base64(claimed)
    except (binascii.Error, ValueError):  # not Base64, or not ASCII
        return False
    return expected == compute_content_hash(event)


def compute_reference_hash(event: Mapping[str, Any], room_version: RoomVersion) -> bytes:
    """SHA-256 over the canonical JSON of the redacted event without ``signatures`` and ``unsigned``.

    ``event`` must be in its room version's federation format: for v3 and later that means no ``event_id`` key,
    since the id is derived from this hash.
    """
    redacted = redact_event(event, room_version)
    redacted.pop("signatures", None)
    redacted.pop("unsigned", None)
    return hashlib.sha256(encode_canonical_json(redacted)).digest()
