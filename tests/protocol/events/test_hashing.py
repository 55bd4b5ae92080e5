"""Content and reference hashes (spec: Server-Server API, "Calculating the content hash for an event",
"Calculating the reference hash for an event")."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from unpaddedbase64 import encode_base64

from protocol.events.hashing import (
    compute_content_hash,
    compute_reference_hash,
    content_hash_matches,
    with_content_hash,
)
from protocol.redaction import redact_event
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from tests.protocol.strategies import events, json_values
from tests.protocol.vectors import SIGNED_MINIMAL_EVENT, SIGNED_REDACTABLE_EVENT, minimal_event, redactable_event

ALL_VERSIONS = list(KNOWN_ROOM_VERSIONS.values())


@pytest.mark.parametrize(
    ("event", "expected"),
    [(minimal_event(), SIGNED_MINIMAL_EVENT["hashes"]), (redactable_event(), SIGNED_REDACTABLE_EVENT["hashes"])],
)
def test_spec_vectors_content_hash(event: dict[str, Any], expected: dict[str, str]) -> None:
    assert with_content_hash(event)["hashes"] == expected
    assert content_hash_matches(with_content_hash(event))


@given(events(), json_values, json_values, json_values)
def test_content_hash_ignores_unsigned_signatures_and_hashes(
    event: dict[str, Any], unsigned: Any, signatures: Any, hashes: Any
) -> None:
    changed = {**event, "unsigned": unsigned, "signatures": signatures, "hashes": hashes}
    assert compute_content_hash(changed) == compute_content_hash(event)


def test_content_hash_covers_redactable_content() -> None:
    event = with_content_hash(redactable_event())
    assert not content_hash_matches({**event, "content": {"body": "edited"}})
    assert not content_hash_matches(redact_event(event, KNOWN_ROOM_VERSIONS["10"]))


@pytest.mark.parametrize("hashes", [None, {}, {"sha256": 5}, {"sha256": "not base64 ✓"}, {"sha256": "AAAA"}, "x"])
def test_missing_or_malformed_content_hashes_do_not_match(hashes: Any) -> None:
    event = redactable_event()
    if hashes is not None:
        event["hashes"] = hashes
    assert not content_hash_matches(event)


def test_with_content_hash_replaces_old_hashes_and_leaves_the_input_alone() -> None:
    event = {**redactable_event(), "hashes": {"sha256": "stale", "sha512": "other"}}
    hashed = with_content_hash(event)
    assert hashed["hashes"] == {"sha256": encode_base64(compute_content_hash(event))}
    assert event["hashes"] == {"sha256": "stale", "sha512": "other"}


@given(events(), st.sampled_from(ALL_VERSIONS))
def test_reference_hash_survives_redaction(event: dict[str, Any], room_version: RoomVersion) -> None:
    assert compute_reference_hash(redact_event(event, room_version), room_version) == compute_reference_hash(
        event, room_version
    )


@given(events(), json_values)
def test_reference_hash_ignores_signatures_and_unsigned(event: dict[str, Any], extra: Any) -> None:
    room_version = KNOWN_ROOM_VERSIONS["12"]
    changed = {**event, "signatures": {"x": {"ed25519:1": "s"}}, "unsigned": extra}
    assert compute_reference_hash(changed, room_version) == compute_reference_hash(event, room_version)


def test_reference_hash_covers_essential_fields_and_the_content_hash() -> None:
    room_version = KNOWN_ROOM_VERSIONS["12"]
    event = with_content_hash(minimal_event())
    reference = compute_reference_hash(event, room_version)
    assert compute_reference_hash({**event, "depth": 4}, room_version) != reference
    assert compute_reference_hash({**event, "hashes": {"sha256": "other"}}, room_version) != reference
