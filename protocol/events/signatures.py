"""Signing events and checking their signatures.

An event is signed in three steps (spec: Server-Server API, "Adding hashes and signatures to outgoing events"):
compute the content hash into ``hashes``, redact, sign the redacted copy, and copy the signatures back. Because the
signature covers only the redacted form (which includes ``hashes``), it still verifies after a redaction, while
the content hash reveals whether the non-essential parts were changed or removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from protocol.canonical_json import JsonDict
from protocol.events.hashing import with_content_hash
from protocol.redaction import redact_event
from protocol.room_versions import RoomVersion
from protocol.signing import SigningKey, VerifyKey, sign_json, verify_json


def add_event_signature(
    event: Mapping[str, Any], room_version: RoomVersion, server_name: str, signing_key: SigningKey
) -> JsonDict:
    """A copy of ``event`` with ``server_name``'s signature over its redacted form added to ``signatures``.

    Leaves ``hashes`` alone: this is how a server countersigns an event another server built (for instance the
    resident server signing a join in ``send_join``), and the last step of :func:`hash_and_sign_event`.
    """
    signed_redaction = sign_json(redact_event(event, room_version), server_name, signing_key)
    return {**event, "signatures": signed_redaction["signatures"]}


def hash_and_sign_event(
    event: Mapping[str, Any], room_version: RoomVersion, server_name: str, signing_key: SigningKey
) -> JsonDict:
    """A copy of ``event`` with its content hash in ``hashes`` and ``server_name``'s signature in ``signatures``."""
    return add_event_signature(with_content_hash(event), room_version, server_name, signing_key)


def verify_event_signature(
    event: Mapping[str, Any], room_version: RoomVersion, server_name: str, verify_key: VerifyKey
) -> None:
    """Raise :class:`protocol.signing.InvalidSignature` unless ``server_name`` signed ``event`` with ``verify_key``.

    Checks the redacted form, so a full event and any redacted copy of it verify alike (spec: Server-Server API,
    "Validating hashes and signatures on received events"). Which servers must sign, and which keys were valid at
    the event's ``origin_server_ts``, is the caller's policy.
    """
    verify_json(redact_event(event, room_version), server_name, verify_key)
