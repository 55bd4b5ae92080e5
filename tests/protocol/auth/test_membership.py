"""The m.room.member rule: transition matrices, knocking, restricted joins, the creator's join, per room version."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.auth import AuthError, check_auth
from protocol.events.model import Event
from tests.protocol.factories import (
    ALICE,
    ALL_VERSIONS,
    BOB,
    CAROL,
    CREATOR,
    MALLORY,
    Room,
    standard_room,
    version,
    versions,
)

CURRENT = (None, "invite", "join", "leave", "ban", "knock")


def _rows(table: dict[Any, str]) -> list[tuple[Any, str | None, bool]]:
    """Expand ``key -> "yn..."`` (one letter per entry of CURRENT) into (key, current, allowed) rows."""
    return [(key, current, flags[i] == "y") for key, flags in table.items() for i, current in enumerate(CURRENT)]


# Alice changes her own membership: (new membership, join rule) -> allowed, for each current membership.
SELF_TABLE = {
    ("join", "public"): "yyyyny",
    ("join", "invite"): "nyynnn",
    ("join", "knock"): "nyynnn",
    ("leave", "public"): "nyynny",
    ("leave", "invite"): "nyynny",
    ("invite", "public"): "nnnnnn",
    ("ban", "public"): "nnnnnn",
    ("knock", "knock"): "ynnyny",
    ("knock", "invite"): "nnnnnn",
    ("knock", "public"): "nnnnnn",
}


def _room_with_alice(room_version: Any, join_rule: str, current: str | None, **levels: Any) -> Room:
    room = standard_room(room_version, join_rule, users={BOB: 50, CAROL: 0}, members=(BOB, CAROL), **levels)
    if current is not None:
        room.force_member(ALICE, current, sender=BOB if current in ("invite", "ban") else ALICE)
    return room


@pytest.mark.parametrize(("key", "current", "allowed"), _rows(SELF_TABLE))
def test_own_membership_transitions(key: tuple[str, str], current: str | None, allowed: bool) -> None:
    new, join_rule = key
    for room_version in versions(7):
        room = _room_with_alice(room_version, join_rule, current)
        assert room.allows(room.member(ALICE, new)) is allowed, room_version.identifier


@pytest.mark.parametrize(("key", "current", "allowed"), _rows(SELF_TABLE))
def test_own_membership_transitions_before_knocking_existed(
    key: tuple[str, str], current: str | None, allowed: bool
) -> None:
    """v1-v6: no knock membership, and a "knock" join rule is unknown, so nobody joins by it."""
    new, join_rule = key
    if current == "knock":
        return
    if new == "knock" or join_rule == "knock":
        allowed = False
    for room_version in versions(1, 6):
        room = _room_with_alice(room_version, join_rule, current)
        assert room.allows(room.member(ALICE, new)) is allowed, room_version.identifier


# Bob (50; kick and ban 50, invite 0) or Carol (0) changes Alice's (0) membership.
OTHER_TABLE = {
    (BOB, "invite"): "yynyny",
    (BOB, "leave"): "yyyyyy",
    (BOB, "ban"): "yyyyyy",
    (BOB, "join"): "nnnnnn",
    (BOB, "knock"): "nnnnnn",
    (CAROL, "invite"): "yynyny",
    (CAROL, "leave"): "nnnnnn",
    (CAROL, "ban"): "nnnnnn",
    (MALLORY, "invite"): "nnnnnn",
    (MALLORY, "leave"): "nnnnnn",
    (MALLORY, "ban"): "nnnnnn",
}


@pytest.mark.parametrize(("key", "current", "allowed"), _rows(OTHER_TABLE))
def test_membership_transitions_of_another_user(key: tuple[str, str], current: str | None, allowed: bool) -> None:
    sender, new = key
    for room_version in versions(7):
        room = _room_with_alice(room_version, "knock", current)
        room.force_member(MALLORY, "leave")  # Mallory was in the room, so she has a level but no membership
        assert room.allows(room.member(sender, new, ALICE)) is allowed, room_version.identifier


@pytest.mark.parametrize("new", ["leave", "ban"])
def test_nobody_kicks_or_bans_a_user_with_equal_or_more_power(new: str) -> None:
    for room_version in ALL_VERSIONS:
        room = standard_room(room_version, users={BOB: 50, ALICE: 50, CAROL: 75})
        room.join(ALICE, BOB, CAROL)
        assert not room.allows(room.member(BOB, new, ALICE))
        assert not room.allows(room.member(BOB, new, CAROL))
        assert room.allows(room.member(CAROL, new, ALICE))


def test_unbanning_needs_the_kick_level_too() -> None:
    for room_version in ALL_VERSIONS:
        room = standard_room(room_version, users={BOB: 50}, kick=75)
        room.join(BOB)
        room.force_member(ALICE, "ban", sender=BOB)
        assert not room.allows(room.member(BOB, "leave", ALICE))
        room.set_power_levels(users={**room.creator_levels(), BOB: 50}, kick=50)
        assert room.allows(room.member(BOB, "leave", ALICE))


def test_membership_events_need_a_state_key_and_a_membership() -> None:
    for room_version in ALL_VERSIONS:
        room = standard_room(room_version)
        no_membership = room.event(ALICE, "m.room.member", {}, state_key=ALICE)
        not_state = room.event(ALICE, "m.room.member", {"membership": "join"})
        unknown = room.member(ALICE, "wander")
        for event in (no_membership, not_state):
            with pytest.raises(AuthError, match=r"needs a state_key and content\.membership"):
                room.check(event)
        with pytest.raises(AuthError, match="unknown membership"):
            room.check(unknown)


def test_a_join_must_be_sent_by_the_joining_user() -> None:
    for room_version in ALL_VERSIONS:
        room = standard_room(room_version)
        room.join(BOB)
        with pytest.raises(AuthError, match="cannot join another user"):
            room.check(room.member(BOB, "join", ALICE))


def test_without_join_rules_a_room_is_invite_only() -> None:
    for room_version in ALL_VERSIONS:
        room = Room(room_version)
        room.send_member(CREATOR, "join")
        assert not room.allows(room.member(ALICE, "join"))
        room.send_member(CREATOR, "invite", ALICE)
        assert room.allows(room.member(ALICE, "join"))


# --- the creator's first join -------------------------------------------------------------------------------


def test_the_creator_joins_right_after_the_create_event() -> None:
    for room_version in ALL_VERSIONS:
        room = Room(room_version)
        assert room.allows(room.member(CREATOR, "join"))
        assert not room.allows(room.member(ALICE, "join"))


def test_the_first_join_belongs_to_content_creator_before_v11_and_to_the_sender_from_v11() -> None:
    for room_version in ALL_VERSIONS:
        room = Room(room_version, sender=CREATOR, creator=ALICE)
        by_content = room.allows(room.member(ALICE, "join"))
        by_sender = room.allows(room.member(CREATOR, "join"))
        assert (by_content, by_sender) == ((True, False) if room_version.create_event_has_creator else (False, True))


def test_the_creators_special_join_needs_the_create_event_as_only_prev_event() -> None:
    for room_version in ALL_VERSIONS:
        room = Room(room_version)
        topic = room.apply(room.event(CREATOR, "m.room.topic", {"topic": "x"}, state_key=""))
        assert not room.allows(room.member(CREATOR, "join"))

        def join(prev: list[Event], room: Room = room) -> Event:
            return room.event(CREATOR, "m.room.member", {"membership": "join"}, state_key=CREATOR, prev=prev)

        assert room.allows(join([room.create]))
        assert not room.allows(join([room.create, topic]))
        assert not room.allows(room.event(ALICE, "m.room.member", {"membership": "join"}, state_key=ALICE,
                                          prev=[room.create]))  # fmt: skip


# --- knocking (v7+) and restricted joins (v8+, knock_restricted v10+) -----------------------------------------


def test_knocking_is_allowed_from_v7_only() -> None:
    for room_version in ALL_VERSIONS:
        room = standard_room(room_version, "knock")
        assert room.allows(room.member(ALICE, "knock")) is room_version.knock_join_rule
        if room_version.knock_join_rule:
            assert not room.allows(room.member(BOB, "knock", ALICE))
            room.send_member(ALICE, "knock")
            assert room.allows(room.member(CREATOR, "invite", ALICE))
            assert room.allows(room.member(ALICE, "leave"))  # withdrawing a knock


def _restricted_join(room: Room, authoriser: str | None) -> Event:
    content = {} if authoriser is None else {"join_authorised_via_users_server": authoriser}
    return room.member(ALICE, "join", **content)


@pytest.mark.parametrize(("join_rule", "first_version"), [("restricted", 8), ("knock_restricted", 10)])
def test_restricted_joins_need_an_authorising_member_who_may_invite(join_rule: str, first_version: int) -> None:
    for room_version in ALL_VERSIONS:
        room = standard_room(room_version, join_rule, users={BOB: 50, CAROL: 0}, members=(BOB, CAROL), invite=25)
        supported = int(room_version.identifier) >= first_version
        assert room.allows(_restricted_join(room, BOB)) is supported, room_version.identifier
        assert not room.allows(_restricted_join(room, CAROL))  # below the invite level
        assert not room.allows(_restricted_join(room, MALLORY))  # not joined
        assert not room.allows(_restricted_join(room, None))
        assert not room.allows(room.member(ALICE, "join", join_authorised_via_users_server=5))
        room.send_member(BOB, "invite", ALICE)
        assert room.allows(_restricted_join(room, None)) is supported  # invited users need no authoriser


def test_knock_restricted_rooms_take_knocks_from_v10() -> None:
    for room_version in ALL_VERSIONS:
        room = standard_room(room_version, "knock_restricted")
        assert room.allows(room.member(ALICE, "knock")) is room_version.knock_restricted_join_rule


def test_the_authorising_servers_signature_is_checked_when_a_check_is_given() -> None:
    for room_version in ALL_VERSIONS:
        room = standard_room(room_version, "restricted", users={BOB: 50}, members=(BOB,))
        event = _restricted_join(room, BOB)
        signers = _SignatureCheck(event, signed=True)
        refusal = _SignatureCheck(event, signed=False)
        if not room_version.restricted_join_rule:
            with pytest.raises(AuthError, match="does not allow joining"):
                check_auth(event, room.state, is_signed_by=refusal)
            assert refusal.asked == []
            continue
        check_auth(event, room.state, is_signed_by=signers)
        assert signers.asked == ["remote.example"]
        with pytest.raises(AuthError) as raised:
            check_auth(event, room.state, is_signed_by=refusal)
        assert raised.value.rule == ("5.2" if room_version.identifier == "12" else "4.2")
        check_auth(event, room.state)  # no check given: the signature is someone else's business


class _SignatureCheck:
    """A stand-in for the key lookup: answers ``signed`` and records which servers it was asked about."""

    def __init__(self, event: Event, *, signed: bool) -> None:
        self.event = event
        self.signed = signed
        self.asked: list[str] = []

    def __call__(self, event: Event, server_name: str) -> bool:
        assert event is self.event
        self.asked.append(server_name)
        return self.signed


def test_the_signature_rule_applies_to_any_membership_carrying_an_authoriser() -> None:
    room = standard_room(version(9), users={BOB: 50})
    room.join(BOB)
    leave = room.member(BOB, "leave", join_authorised_via_users_server=BOB)
    with pytest.raises(AuthError, match="not signed by the server"):
        check_auth(leave, room.state, is_signed_by=lambda event, server: False)
