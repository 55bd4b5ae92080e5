"""Room versions 1-12 (spec: Room Versions and the per-version pages rooms/v1 ... rooms/v12)."""

from __future__ import annotations

from dataclasses import fields

import pytest

from protocol.room_versions import (
    DEFAULT_ROOM_VERSION,
    KNOWN_ROOM_VERSIONS,
    EventIdFormat,
    RoomIdFormat,
    RoomVersion,
    StateResolution,
    is_valid_room_version_identifier,
    room_version_capability,
)

ALL = set(range(1, 13))


def versions(first: int, last: int = 12) -> set[int]:
    return set(range(first, last + 1))


# Every boolean property, with the versions where it holds, read off the spec pages.
BOOLEAN_PROPERTIES: dict[str, set[int]] = {
    "stable": ALL,
    "enforce_key_validity": versions(5),
    "strict_canonical_json": versions(6),
    "strict_event_byte_limits": versions(11),
    "redactions_in_auth_rules": versions(1, 2),
    "special_case_aliases_auth": versions(1, 5),
    "limit_notifications_power_levels": versions(6),
    "knock_join_rule": versions(7),
    "restricted_join_rule": versions(8),
    "knock_restricted_join_rule": versions(10),
    "integer_only_power_levels": versions(10),
    "create_event_has_creator": versions(1, 10),
    "redacts_in_content": versions(11),
    "room_creators_have_infinite_power": {12},
    "create_event_in_auth_events": versions(1, 11),
    "redaction_keeps_aliases": versions(1, 5),
    "redaction_keeps_join_rules_allow": versions(8),
    "redaction_keeps_join_authorised_via_users_server": versions(9),
    "updated_redaction_rules": versions(11),
}


def test_versions_one_to_twelve_are_known_and_named_by_their_key() -> None:
    assert list(KNOWN_ROOM_VERSIONS) == [str(number) for number in range(1, 13)]
    for identifier, version in KNOWN_ROOM_VERSIONS.items():
        assert version.identifier == identifier


def test_the_default_for_new_rooms_is_version_12() -> None:
    assert DEFAULT_ROOM_VERSION == "12"
    assert DEFAULT_ROOM_VERSION in KNOWN_ROOM_VERSIONS


def test_every_boolean_property_is_tabulated() -> None:
    booleans = {field.name for field in fields(RoomVersion) if field.type == "bool"}
    assert booleans == set(BOOLEAN_PROPERTIES)


@pytest.mark.parametrize("name", sorted(BOOLEAN_PROPERTIES))
def test_boolean_property_holds_exactly_in_the_versions_the_spec_gives(name: str) -> None:
    holding = {int(identifier) for identifier, version in KNOWN_ROOM_VERSIONS.items() if getattr(version, name)}
    assert holding == BOOLEAN_PROPERTIES[name]


@pytest.mark.parametrize(
    ("identifier", "event_ids", "room_ids", "state_res"),
    [
        ("1", EventIdFormat.SERVER_GENERATED, RoomIdFormat.SERVER_GENERATED, StateResolution.V1),
        ("2", EventIdFormat.SERVER_GENERATED, RoomIdFormat.SERVER_GENERATED, StateResolution.V2),
        ("3", EventIdFormat.REFERENCE_HASH, RoomIdFormat.SERVER_GENERATED, StateResolution.V2),
        *[
            (str(n), EventIdFormat.URL_SAFE_REFERENCE_HASH, RoomIdFormat.SERVER_GENERATED, StateResolution.V2)
            for n in range(4, 12)
        ],
        ("12", EventIdFormat.URL_SAFE_REFERENCE_HASH, RoomIdFormat.CREATE_EVENT_HASH, StateResolution.V2_1),
    ],
)
def test_id_formats_and_state_resolution_per_version(
    identifier: str, event_ids: EventIdFormat, room_ids: RoomIdFormat, state_res: StateResolution
) -> None:
    version = KNOWN_ROOM_VERSIONS[identifier]
    assert (version.event_id_format, version.room_id_format, version.state_resolution) == (
        event_ids,
        room_ids,
        state_res,
    )
    assert version.event_id_in_event == (identifier in ("1", "2"))


def test_feature_matrix_from_the_room_versions_page() -> None:
    # Spec: Room Versions, "Feature matrix".
    knocking = {int(i) for i, v in KNOWN_ROOM_VERSIONS.items() if v.knock_join_rule}
    restricted = {int(i) for i, v in KNOWN_ROOM_VERSIONS.items() if v.restricted_join_rule}
    knock_restricted = {int(i) for i, v in KNOWN_ROOM_VERSIONS.items() if v.knock_restricted_join_rule}
    additional_creators = {int(i) for i, v in KNOWN_ROOM_VERSIONS.items() if v.room_creators_have_infinite_power}
    assert (knocking, restricted, knock_restricted, additional_creators) == (
        versions(7),
        versions(8),
        versions(10),
        {12},
    )


def test_depth_limit_shrinks_once_canonical_json_is_enforced() -> None:
    assert KNOWN_ROOM_VERSIONS["5"].max_depth == 2**63 - 1
    assert KNOWN_ROOM_VERSIONS["6"].max_depth == 2**53 - 1


@pytest.mark.parametrize("identifier", ["1", "12", "1.2", "1.2-beta", "com.example.version", "a" * 32])
def test_room_version_grammar_accepts(identifier: str) -> None:
    assert is_valid_room_version_identifier(identifier)


@pytest.mark.parametrize("identifier", ["", "a" * 33, "V1", "1_2", "1 2", "org.matrix.msc/1"])
def test_room_version_grammar_refuses(identifier: str) -> None:
    assert not is_valid_room_version_identifier(identifier)


def test_capability_lists_every_version_as_stable_and_names_the_default() -> None:
    capability = room_version_capability()
    assert capability["default"] == "12"
    assert capability["available"] == {str(n): "stable" for n in range(1, 13)}
    assert room_version_capability("10")["default"] == "10"


def test_room_versions_are_immutable_values() -> None:
    version = KNOWN_ROOM_VERSIONS["12"]
    with pytest.raises(AttributeError):
        version.stable = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        KNOWN_ROOM_VERSIONS["13"] = version  # type: ignore[index]
