"""When a redaction takes effect (rooms/v3 "Handling redactions") and what a server checks before sending its
own user's redaction (Client-Server API, "Redactions")."""

from __future__ import annotations

import pytest

from protocol.auth import PowerLevels
from protocol.errors import Forbidden, NotFound
from protocol.redaction import check_local_redaction, redaction_applies, redaction_needs_power_levels
from protocol.room_versions import RoomVersion
from tests.protocol.factories import ALICE, BOB, CAROL, CREATOR, MALLORY, Room, version, versions

MODERATOR_LEVELS = PowerLevels(users={CREATOR: 100, MALLORY: 50}, redact=50)
WEAK_LEVELS = PowerLevels(users={CREATOR: 100}, redact=50)


@pytest.mark.parametrize("room_version", versions(3), ids=lambda v: f"v{v.identifier}")
def test_from_v3_a_redaction_applies_from_the_same_server_or_with_the_redact_level(
        room_version: RoomVersion) -> None:
    room = Room(room_version)
    target = room.event(BOB, "m.room.message", {"body": "spam"})
    same_server = room.event(CAROL, "m.room.redaction", {}, redacts=target.event_id)
    other_server = room.event(MALLORY, "m.room.redaction", {}, redacts=target.event_id)
    assert not redaction_needs_power_levels(same_server, target)
    assert redaction_applies(same_server, target, None)
    assert redaction_needs_power_levels(other_server, target)
    assert not redaction_applies(other_server, target, WEAK_LEVELS)
    assert not redaction_applies(other_server, target, None)
    assert redaction_applies(other_server, target, MODERATOR_LEVELS)


@pytest.mark.parametrize("room_version", versions(1, 2), ids=lambda v: f"v{v.identifier}")
def test_in_v1_and_v2_the_auth_rules_already_decided(room_version: RoomVersion) -> None:
    room = Room(room_version)
    target = room.event(BOB, "m.room.message", {"body": "spam"})
    redaction = room.event(MALLORY, "m.room.redaction", {}, redacts=target.event_id)
    assert redaction_applies(redaction, target, None)


def test_a_redaction_applies_only_to_the_event_it_names() -> None:
    room = Room(version(11))
    target = room.event(BOB, "m.room.message", {"body": "one"})
    other = room.event(BOB, "m.room.message", {"body": "two"})
    redaction = room.event(BOB, "m.room.redaction", {}, redacts=target.event_id)
    assert redaction_applies(redaction, target, None)
    assert not redaction_applies(redaction, other, None)
    not_a_redaction = room.event(BOB, "m.room.message", {"redacts": target.event_id})
    assert not redaction_applies(not_a_redaction, target, None)


def test_a_local_user_may_redact_their_own_events_but_others_only_with_the_redact_level() -> None:
    room = Room(version(10))
    own = room.event(ALICE, "m.room.message", {"body": "mine"})
    theirs = room.event(CREATOR, "m.room.message", {"body": "theirs"})
    check_local_redaction(room.event(ALICE, "m.room.redaction", {}, redacts=own.event_id), own, WEAK_LEVELS)
    with pytest.raises(Forbidden):
        check_local_redaction(room.event(ALICE, "m.room.redaction", {}, redacts=theirs.event_id), theirs,
                              WEAK_LEVELS)
    check_local_redaction(room.event(CREATOR, "m.room.redaction", {}, redacts=own.event_id), own, WEAK_LEVELS)


def test_an_unknown_target_needs_the_redact_level_and_the_create_event_is_never_redacted() -> None:
    room = Room(version(10))
    with pytest.raises(NotFound):
        check_local_redaction(room.event(ALICE, "m.room.redaction", {}, redacts="$unknown"), None, WEAK_LEVELS)
    check_local_redaction(room.event(CREATOR, "m.room.redaction", {}, redacts="$unknown"), None, WEAK_LEVELS)
    with pytest.raises(Forbidden):
        check_local_redaction(room.event(CREATOR, "m.room.redaction", {}, redacts=room.create.event_id),
                              room.create, WEAK_LEVELS)
