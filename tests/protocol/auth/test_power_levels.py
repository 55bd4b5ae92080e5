"""Reading power levels per room version, their defaults, and who holds which level."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.auth import (
    CREATOR_POWER_LEVEL,
    InvalidPowerLevels,
    PowerLevels,
    parse_power_level,
    parse_power_levels_content,
    power_levels_from_state,
    read_power_levels_content,
    room_creator,
    room_creators,
    user_power_level,
)
from tests.protocol.factories import ALICE, ALL_VERSIONS, BOB, CAROL, CREATOR, Room, version, versions

# (value, v1-v5, v6-v9, v10-v12): what each family of versions reads the value as.
LEVEL_TABLE = [
    (50, 50, 50, 50),
    (-7, -7, -7, -7),
    ("50", 50, 50, None),
    ("  +050 ", 50, 50, None),
    ("-100", -100, -100, None),
    ("\t7\n", 7, 7, None),
    ("5.5", None, None, None),
    ("1_000", None, None, None),
    ("٣", None, None, None),  # an Arabic-Indic digit: Python's int() takes it, the spec's grammar does not
    ("", None, None, None),
    ("+", None, None, None),
    (50.57, 50, None, None),
    (-1.9, -1, None, None),
    (5.114698e4, 51146, None, None),
    (math.inf, None, None, None),
    (math.nan, None, None, None),
    (True, None, None, None),
    (None, None, None, None),
    ([50], None, None, None),
]


@pytest.mark.parametrize(("value", "v1_to_v5", "v6_to_v9", "v10_on"), LEVEL_TABLE)
def test_power_level_values_are_read_per_room_version(value: object, v1_to_v5: int, v6_to_v9: int, v10_on: int) -> None:
    for room_version in ALL_VERSIONS:
        number = int(room_version.identifier)
        expected = v1_to_v5 if number <= 5 else v6_to_v9 if number <= 9 else v10_on
        assert parse_power_level(value, room_version) == expected, room_version.identifier


@given(st.integers(-(2**53) + 1, 2**53 - 1), st.sampled_from(["", " ", "\t", "  "]), st.integers(0, 3),
       st.sampled_from(["", "+"]))  # fmt: skip
def test_integer_strings_read_as_their_integer_before_v10_only(
    number: int, space: str, zeros: int, plus: str
) -> None:
    sign = "-" if number < 0 else plus
    text = f"{space}{sign}{'0' * zeros}{abs(number)}{space}"
    for room_version in versions(1, 9):
        assert parse_power_level(text, room_version) == number
    for room_version in versions(10):
        assert parse_power_level(text, room_version) is None


def test_defaults_without_a_power_levels_event_give_the_creator_100_before_v12() -> None:
    for room_version in versions(1, 11):
        room = Room(room_version)
        levels = power_levels_from_state(room.state)
        assert levels.user_level(CREATOR) == 100
        assert levels.user_level(ALICE) == 0
        assert (levels.state_default, levels.events_default, levels.users_default) == (50, 0, 0)
        assert (levels.ban, levels.kick, levels.redact, levels.invite) == (50, 50, 50, 0)
        assert levels.notification_level("room") == 50


def test_v12_creators_have_infinite_power_with_or_without_a_power_levels_event() -> None:
    room = Room(version(12), additional_creators=[ALICE])
    assert room_creators(room.create) == {CREATOR, ALICE}
    assert user_power_level(ALICE, room.state) == CREATOR_POWER_LEVEL == math.inf
    assert user_power_level(BOB, room.state) == 0
    room.send_member(CREATOR, "join")
    room.set_power_levels(users={BOB: 100}, users_default=10)
    assert user_power_level(CREATOR, room.state) == math.inf
    assert user_power_level(ALICE, room.state) == math.inf
    assert user_power_level(BOB, room.state) == 100
    assert user_power_level(CAROL, room.state) == 10


def test_additional_creators_mean_nothing_before_v12() -> None:
    room = Room(version(11), additional_creators=[ALICE])
    assert room_creators(room.create) == {CREATOR}
    assert user_power_level(ALICE, room.state) == 0


def test_the_creator_is_content_creator_before_v11_and_the_sender_from_v11() -> None:
    for room_version in versions(1, 10):
        room = Room(room_version, sender=CREATOR, creator=ALICE)
        assert room_creator(room.create) == ALICE
        assert power_levels_from_state(room.state).users == {ALICE: 100}
    for room_version in versions(11):
        room = Room(room_version, sender=ALICE, creator=BOB)
        assert room_creator(room.create) == ALICE


def test_explicit_levels_override_defaults_and_listed_events_override_state_and_event_defaults() -> None:
    levels = PowerLevels.from_content(
        {"users": {ALICE: 75}, "users_default": 5, "events": {"m.room.name": 20, "m.room.message": 10},
         "state_default": 60, "events_default": 1, "notifications": {"room": 80}},
        version(10),
    )  # fmt: skip
    assert levels.user_level(ALICE) == 75
    assert levels.user_level(BOB) == 5
    assert levels.event_level("m.room.name", is_state=True) == 20
    assert levels.event_level("m.room.topic", is_state=True) == 60
    assert levels.event_level("m.room.message", is_state=False) == 10
    assert levels.event_level("m.reaction", is_state=False) == 1
    assert levels.notification_level("room") == 80
    assert levels.notification_level("other") == 50


def test_lenient_reading_drops_unreadable_values_so_they_take_their_defaults() -> None:
    content = {"ban": "high", "kick": "20", "users": {ALICE: "x", BOB: "30", "not-a-user": 5}, "events": []}
    levels = PowerLevels.from_content(content, version(9))
    assert (levels.ban, levels.kick) == (50, 20)
    assert levels.users == {BOB: 30}
    assert levels.events == {}
    read = read_power_levels_content(content, version(10))
    assert read.fields == {}
    assert read.users == {}


@pytest.mark.parametrize(
    ("content", "key", "first_version_refusing"),
    [
        ({"users": {"not-a-user": 50}}, "users", 1),
        ({"users": {ALICE: "fifty"}}, "users", 1),
        ({"users": []}, "users", 1),
        ({"users": {ALICE: "50"}}, "users", 10),
        ({"ban": "x"}, "ban", 1),
        ({"ban": "50"}, "ban", 10),
        ({"events": {"m.room.name": "50"}}, "events", 10),
        ({"events": "none"}, "events", 1),
        ({"notifications": {"room": "50"}}, "notifications", 10),
        ({"notifications": {"room": "loud"}}, "notifications", 6),
        ({"users_default": 1.5}, "users_default", 6),
    ],
)
def test_strict_reading_refuses_what_the_room_version_does_not_accept(
    content: dict[str, object], key: str, first_version_refusing: int
) -> None:
    for room_version in ALL_VERSIONS:
        if int(room_version.identifier) >= first_version_refusing:
            with pytest.raises(InvalidPowerLevels) as raised:
                parse_power_levels_content(content, room_version)
            assert raised.value.key == key
        else:
            parse_power_levels_content(content, room_version)


def test_power_levels_from_an_empty_state_are_the_defaults() -> None:
    assert power_levels_from_state({}) == PowerLevels()
