"""Event ids and room ids per room version (spec: rooms/v1, v3, v4 "Event IDs"; rooms/v12; Appendices "Room IDs")."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.events.hashing import compute_reference_hash, with_content_hash
from protocol.events.ids import (
    compute_event_id,
    create_event_id_from_room_id,
    event_id_of,
    is_valid_event_id,
    is_valid_room_id,
    legacy_event_id,
    legacy_room_id,
    room_id_from_create_event,
)
from protocol.redaction import redact_event
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from tests.protocol.strategies import events
from tests.protocol.vectors import minimal_event, redactable_event

HASH_VERSIONS = [KNOWN_ROOM_VERSIONS[str(n)] for n in range(3, 13)]
V1, V2, V3, V4, V11, V12 = (KNOWN_ROOM_VERSIONS[n] for n in ("1", "2", "3", "4", "11", "12"))
STANDARD_ID = re.compile(r"\$[A-Za-z0-9+/]{43}")
URL_SAFE_ID = re.compile(r"\$[A-Za-z0-9_\-]{43}")


def create_event() -> dict[str, Any]:
    return with_content_hash(
        {
            "type": "m.room.create",
            "state_key": "",
            "sender": "@alice:example.org",
            "content": {"room_version": "12"},
            "origin_server_ts": 1700000000000,
            "depth": 1,
            "prev_events": [],
            "auth_events": [],
        }
    )


@pytest.mark.parametrize("room_version", [V1, V2], ids=["v1", "v2"])
def test_v1_and_v2_events_carry_their_server_chosen_id(room_version: RoomVersion) -> None:
    assert event_id_of(redactable_event(), room_version) == "$0:domain"
    with pytest.raises(ValueError):
        compute_event_id(redactable_event(), room_version)
    with pytest.raises(ValueError):
        event_id_of(minimal_event(), room_version)


def test_v3_ids_are_standard_base64_and_v4_ids_url_safe_of_the_same_hash() -> None:
    # This event's reference hash happens to contain both characters that differ between the two alphabets.
    event = {**with_content_hash(minimal_event()), "depth": 5}
    v3_id, v4_id = compute_event_id(event, V3), compute_event_id(event, V4)
    assert v3_id == "$Dst8nddHyB+rq/NxCgoksQtbOXBhAX8zIOGo/f9ak8o"
    assert STANDARD_ID.fullmatch(v3_id) and URL_SAFE_ID.fullmatch(v4_id)
    assert v4_id == v3_id.replace("+", "-").replace("/", "_")
    assert compute_reference_hash(event, V3) == compute_reference_hash(event, V4)


@given(events(), st.sampled_from(HASH_VERSIONS))
def test_hash_ids_have_their_version_s_alphabet_and_survive_redaction(
    event: dict[str, Any], room_version: RoomVersion
) -> None:
    event_id = event_id_of(event, room_version)
    pattern = STANDARD_ID if room_version.identifier == "3" else URL_SAFE_ID
    assert pattern.fullmatch(event_id)
    assert is_valid_event_id(event_id, room_version)
    assert compute_event_id(redact_event(event, room_version), room_version) == event_id


def test_v11_and_v12_ids_differ_from_v10_when_origin_is_set() -> None:
    # v11 stopped protecting ``origin`` from redaction, so it no longer feeds into the reference hash.
    event = with_content_hash(minimal_event())
    v10 = KNOWN_ROOM_VERSIONS["10"]
    assert compute_event_id(event, v10) != compute_event_id(event, V11) == compute_event_id(event, V12)


def test_v12_room_id_is_the_create_event_id_with_a_bang() -> None:
    create = create_event()
    room_id = room_id_from_create_event(create, V12)
    assert room_id == "!" + compute_event_id(create, V12)[1:]
    assert is_valid_room_id(room_id, V12)
    assert create_event_id_from_room_id(room_id, V12) == compute_event_id(create, V12)


def test_v12_room_ids_refuse_other_versions_and_malformed_create_events() -> None:
    with pytest.raises(ValueError):
        room_id_from_create_event(create_event(), V11)
    with pytest.raises(ValueError):
        room_id_from_create_event({**create_event(), "room_id": "!x:y"}, V12)
    with pytest.raises(ValueError):
        room_id_from_create_event({**create_event(), "type": "m.room.member"}, V12)
    with pytest.raises(ValueError):
        create_event_id_from_room_id("!abc:example.org", V11)
    with pytest.raises(ValueError):
        create_event_id_from_room_id("$abc", V12)


def test_legacy_ids_put_the_creating_server_after_the_colon() -> None:
    assert legacy_event_id("abc123", "example.org:8448") == "$abc123:example.org:8448"
    assert legacy_room_id("jEsUZKDJdhlrceRyVU", "example.org") == "!jEsUZKDJdhlrceRyVU:example.org"
    for bad in ("", "a:b"):
        with pytest.raises(ValueError):
            legacy_event_id(bad, "example.org")
        with pytest.raises(ValueError):
            legacy_room_id(bad, "example.org")


@pytest.mark.parametrize(
    ("event_id", "valid_in"),
    [
        ("$a4ecee13e2accdadf56c1025:example.com", {"1", "2"}),
        ("$abc:localhost:8448", {"1", "2"}),
        ("$acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk", {"3"}),
        ("$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg", {str(n) for n in range(4, 13)}),
        ("$CD66HAED5npg6074c6pDtLKalHjVfYb2q4Q3LZgrW6o", {str(n) for n in range(3, 13)}),
        ("$short", set()),
        ("no-sigil", set()),
        ("$:example.com", set()),
        ("$" + "a" * 250 + ":example.com", set()),
    ],
)
def test_event_id_shapes_per_version(event_id: str, valid_in: set[str]) -> None:
    assert {key for key, version in KNOWN_ROOM_VERSIONS.items() if is_valid_event_id(event_id, version)} == valid_in


@pytest.mark.parametrize(
    ("room_id", "valid_in"),
    [
        ("!jEsUZKDJdhlrceRyVU:example.org", {str(n) for n in range(1, 12)}),
        ("!Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ", {"12"}),
        ("!nocolon", set()),
        ("#alias:example.org", set()),
    ],
)
def test_room_id_shapes_per_version(room_id: str, valid_in: set[str]) -> None:
    assert {key for key, version in KNOWN_ROOM_VERSIONS.items() if is_valid_room_id(room_id, version)} == valid_in
