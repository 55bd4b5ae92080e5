"""Signing events and checking their signatures (spec: Server-Server API, "Signing Events"; Appendices,
"Cryptographic Test Vectors", "Event Signing")."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.events.hashing import content_hash_matches
from protocol.events.signatures import add_event_signature, hash_and_sign_event, verify_event_signature
from protocol.redaction import redact_event
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from protocol.signing import InvalidSignature, generate_signing_key, verify_key_of
from tests.protocol.strategies import events
from tests.protocol.vectors import (
    SERVER_NAME,
    SIGNED_MINIMAL_EVENT,
    SIGNED_REDACTABLE_EVENT,
    minimal_event,
    redactable_event,
    spec_signing_key,
)

# The vectors predate v11: their signatures cover ``origin``, which v11 no longer keeps when redacting.
PRE_V11 = [KNOWN_ROOM_VERSIONS[str(n)] for n in range(1, 11)]
ALL_VERSIONS = list(KNOWN_ROOM_VERSIONS.values())


@pytest.mark.parametrize("room_version", PRE_V11, ids=lambda v: f"v{v.identifier}")
def test_spec_vector_minimal_event(room_version: RoomVersion) -> None:
    signed = hash_and_sign_event(minimal_event(), room_version, SERVER_NAME, spec_signing_key())
    assert signed == SIGNED_MINIMAL_EVENT


@pytest.mark.parametrize("room_version", PRE_V11, ids=lambda v: f"v{v.identifier}")
def test_spec_vector_event_with_redactable_content(room_version: RoomVersion) -> None:
    signed = hash_and_sign_event(redactable_event(), room_version, SERVER_NAME, spec_signing_key())
    assert signed == SIGNED_REDACTABLE_EVENT


def test_from_v11_origin_is_no_longer_signed_but_the_content_hash_is_unchanged() -> None:
    signed = hash_and_sign_event(minimal_event(), KNOWN_ROOM_VERSIONS["11"], SERVER_NAME, spec_signing_key())
    assert signed["hashes"] == SIGNED_MINIMAL_EVENT["hashes"]
    assert signed["signatures"] != SIGNED_MINIMAL_EVENT["signatures"]
    verify_event_signature(
        {**signed, "origin": "elsewhere"}, KNOWN_ROOM_VERSIONS["11"], SERVER_NAME, verify_key_of(spec_signing_key())
    )


@pytest.mark.parametrize("room_version", PRE_V11, ids=lambda v: f"v{v.identifier}")
def test_spec_vectors_verify(room_version: RoomVersion) -> None:
    for signed in (SIGNED_MINIMAL_EVENT, SIGNED_REDACTABLE_EVENT):
        verify_event_signature(signed, room_version, SERVER_NAME, verify_key_of(spec_signing_key()))
        assert content_hash_matches(signed)


def test_a_redacted_copy_still_verifies_but_fails_the_content_hash() -> None:
    room_version = KNOWN_ROOM_VERSIONS["10"]
    redacted = redact_event(SIGNED_REDACTABLE_EVENT, room_version)
    verify_event_signature(redacted, room_version, SERVER_NAME, verify_key_of(spec_signing_key()))
    assert not content_hash_matches(redacted)


def test_tampering_with_essential_fields_breaks_the_signature() -> None:
    room_version = KNOWN_ROOM_VERSIONS["10"]
    key = verify_key_of(spec_signing_key())
    for change in ({"sender": "@mallory:domain"}, {"hashes": {"sha256": "x"}}, {"content": {"membership": "join"}}):
        tampered = {**SIGNED_MINIMAL_EVENT, **change}
        if "content" in change:
            tampered["type"] = "m.room.member"
        with pytest.raises(InvalidSignature):
            verify_event_signature(tampered, room_version, SERVER_NAME, key)
    with pytest.raises(InvalidSignature):
        verify_event_signature(SIGNED_MINIMAL_EVENT, room_version, "other.server", key)


def test_countersigning_keeps_hashes_and_both_signatures_verify() -> None:
    room_version = KNOWN_ROOM_VERSIONS["12"]
    resident_key = generate_signing_key("r")
    signed = hash_and_sign_event(minimal_event(), room_version, SERVER_NAME, spec_signing_key())
    before = copy.deepcopy(signed)
    countersigned = add_event_signature(signed, room_version, "resident.example", resident_key)
    assert signed == before
    assert countersigned["hashes"] == signed["hashes"]
    verify_event_signature(countersigned, room_version, SERVER_NAME, verify_key_of(spec_signing_key()))
    verify_event_signature(countersigned, room_version, "resident.example", verify_key_of(resident_key))


@given(events(), st.sampled_from(ALL_VERSIONS))
def test_signed_events_verify_and_match_their_hash_and_inputs_stay_untouched(
    event: dict[str, Any], room_version: RoomVersion
) -> None:
    event["signatures"] = {"other.example": {"ed25519:k": "sig"}}  # malformed signatures are refused, not signed
    before = copy.deepcopy(event)
    signed = hash_and_sign_event(event, room_version, SERVER_NAME, spec_signing_key())
    assert event == before
    assert content_hash_matches(signed)
    verify_event_signature(signed, room_version, SERVER_NAME, verify_key_of(spec_signing_key()))
    verify_event_signature(
        redact_event(signed, room_version), room_version, SERVER_NAME, verify_key_of(spec_signing_key())
    )
