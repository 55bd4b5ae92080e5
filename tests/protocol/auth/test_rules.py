"""The auth rules as a whole: per-version scenario tables, the create rule, bans racing joins, properties."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.auth import AuthError, check_auth, check_auth_against_auth_events
from protocol.events.model import Event
from protocol.room_versions import RoomVersion
from tests.protocol.factories import (
    ALICE,
    ALL_VERSIONS,
    BOB,
    CAROL,
    CREATOR,
    MALLORY,
    Room,
    domain,
    standard_room,
    version,
    versions,
)

Scenario = tuple[Event, dict[tuple[str, str], Event]]
"""An event and the state to check it against."""


def _member_room(room_version: RoomVersion, join_rule: str = "public", **kwargs: Any) -> Room:
    return standard_room(room_version, join_rule, users={BOB: 50}, members=(ALICE, BOB), **kwargs)


# --- one scenario, every version: where behaviour changes ---------------------------------------------------


def _knock(room_version: RoomVersion) -> Scenario:
    room = standard_room(room_version, "knock")
    return room.member(CAROL, "knock"), room.state


def _join_knock_room_when_invited(room_version: RoomVersion) -> Scenario:
    room = standard_room(room_version, "knock", members=(BOB,))
    room.apply(room.member(CREATOR, "invite", CAROL))
    return room.member(CAROL, "join"), room.state


def _restricted_join(room_version: RoomVersion) -> Scenario:
    room = _member_room(room_version, "restricted")
    return room.member(CAROL, "join", join_authorised_via_users_server=BOB), room.state


def _knock_restricted_join(room_version: RoomVersion) -> Scenario:
    room = _member_room(room_version, "knock_restricted")
    return room.member(CAROL, "join", join_authorised_via_users_server=BOB), room.state


def _string_power_levels(room_version: RoomVersion) -> Scenario:
    room = _member_room(room_version)
    content = {"users": room.creator_levels(), "ban": "50"}
    return room.event(CREATOR, "m.room.power_levels", content, state_key=""), room.state


def _float_power_levels(room_version: RoomVersion) -> Scenario:
    room = _member_room(room_version)
    content = {"users": room.creator_levels(), "ban": 50.5}
    return room.event(CREATOR, "m.room.power_levels", content, state_key=""), room.state


def _create_without_creator(room_version: RoomVersion) -> Scenario:
    room = Room(room_version)
    pdu = room.pdu(CREATOR, "m.room.create", {"room_version": room_version.identifier}, state_key="", prev=[])
    return Event.from_pdu(pdu, room_version), {}


def _additional_creator_bans_a_100(room_version: RoomVersion) -> Scenario:
    room = Room(room_version, additional_creators=[ALICE])
    room.send_member(CREATOR, "join")
    room.set_power_levels(users={**room.creator_levels(), BOB: 100})
    room.set_join_rule("public")
    room.join(ALICE, BOB)
    return room.member(ALICE, "ban", BOB), room.state


def _aliases_from_a_non_member_server(room_version: RoomVersion) -> Scenario:
    room = _member_room(room_version)
    content = {"aliases": ["#a:evil.example"]}
    return room.event(MALLORY, "m.room.aliases", content, state_key="evil.example"), room.state


def _plain_member_redacts_another_servers_event(room_version: RoomVersion) -> Scenario:
    room = _member_room(room_version)
    message = room.send(BOB, "m.room.message", {"body": "hi"})
    return room.event(ALICE, "m.room.redaction", {}, redacts=message.event_id), room.state


def _lowering_room_notifications(room_version: RoomVersion) -> Scenario:
    room = _member_room(room_version, notifications={"room": 100})
    content = {**room.state[("m.room.power_levels", "")].content, "notifications": {"room": 0}}
    return room.event(BOB, "m.room.power_levels", content, state_key=""), room.state


# (scenario, first version allowing it, last version allowing it)
VERSION_TABLE: list[tuple[Callable[[RoomVersion], Scenario], int, int]] = [
    (_knock, 7, 12),
    (_join_knock_room_when_invited, 7, 12),
    (_restricted_join, 8, 12),
    (_knock_restricted_join, 10, 12),
    (_string_power_levels, 1, 9),
    (_float_power_levels, 1, 5),
    (_create_without_creator, 11, 12),
    (_additional_creator_bans_a_100, 12, 12),
    (_aliases_from_a_non_member_server, 1, 5),
    (_plain_member_redacts_another_servers_event, 3, 12),
    (_lowering_room_notifications, 1, 5),
]


@pytest.mark.parametrize(("scenario", "first", "last"), VERSION_TABLE, ids=[row[0].__name__ for row in VERSION_TABLE])
def test_behaviour_by_room_version(scenario: Callable[[RoomVersion], Scenario], first: int, last: int) -> None:
    for room_version in ALL_VERSIONS:
        event, state = scenario(room_version)
        assert _allowed(event, state) is (first <= int(room_version.identifier) <= last), room_version.identifier


def _allowed(event: Event, state: dict[Any, Event]) -> bool:
    try:
        check_auth(event, state)
    except AuthError:
        return False
    return True


# --- the create event ---------------------------------------------------------------------------------------


def _create_pdu(room_version: RoomVersion, **changes: Any) -> Event:
    room = Room(room_version)
    pdu = {**room.create.pdu, **changes}
    if room_version.event_id_in_event:
        pdu["event_id"] = "$other:origin.example"
    return Event.from_pdu({key: value for key, value in pdu.items() if value is not None}, room_version)


def _create_rule(event: Event) -> str:
    with pytest.raises(AuthError) as raised:
        check_auth(event, {})
    return raised.value.rule


def test_create_events() -> None:
    for room_version in ALL_VERSIONS:
        check_auth(Room(room_version).create, {})
        content = dict(Room(room_version).create.content)
        prev = [["$x:origin.example", {}]] if room_version.event_id_in_event else ["$x"]
        assert _create_rule(_create_pdu(room_version, prev_events=prev)) == "1.1"
        assert _create_rule(_create_pdu(room_version, content={**content, "room_version": "13"})) == "1.3"
        assert _create_rule(_create_pdu(room_version, content={**content, "room_version": 12})) == "1.3"
        check_auth(_create_pdu(room_version, content={key: value for key, value in content.items()
                                                      if key != "room_version"}), {})  # fmt: skip  # means "1"
        if room_version.create_event_in_auth_events:
            assert _create_rule(_create_pdu(room_version, room_id="!room:elsewhere.example")) == "1.2"
        else:
            assert _create_rule(_create_pdu(room_version, room_id="!abc")) == "1.2"
        if room_version.create_event_has_creator:
            without = {key: value for key, value in content.items() if key != "creator"}
            assert _create_rule(_create_pdu(room_version, content=without)) == "1.4"


@pytest.mark.parametrize("additional", [[ALICE, 5], "not a list", [ALICE, "alice"], ["@:x.example"]])
def test_v12_additional_creators_must_be_user_ids(additional: Any) -> None:
    room = Room(version(12))
    event = _create_pdu(version(12), content={**room.create.content, "additional_creators": additional})
    assert _create_rule(event) == "1.4"
    check_auth(_create_pdu(version(11), content={"additional_creators": additional}), {})


def test_v12_room_ids_name_the_create_event() -> None:
    room = _member_room(version(12))
    elsewhere = _member_room(version(12))
    event = room.event(ALICE, "m.room.message", {"body": "hi"})
    check_auth(event, room.state)
    mixed = {**room.state, ("m.room.create", ""): elsewhere.create}
    with pytest.raises(AuthError) as raised:
        check_auth(event, mixed)
    assert raised.value.rule == "2"
    without_create = {key: value for key, value in room.state.items() if key != ("m.room.create", "")}
    with pytest.raises(AuthError, match=r"m\.room\.create event is unknown"):
        check_auth(event, without_create)


def test_before_v12_the_state_needs_a_create_event_of_this_room() -> None:
    for room_version in versions(1, 11):
        room = _member_room(room_version)
        elsewhere = _member_room(room_version)
        event = room.event(ALICE, "m.room.message", {"body": "hi"})
        without_create = {key: value for key, value in room.state.items() if key != ("m.room.create", "")}
        with pytest.raises(AuthError, match=r"no m\.room\.create"):
            check_auth(event, without_create)
        with pytest.raises(AuthError, match="from another room"):
            check_auth(event, {**room.state, ("m.room.create", ""): elsewhere.create})


# --- the rules every event passes -----------------------------------------------------------------------------


def test_m_federate_false_keeps_other_servers_out() -> None:
    for room_version in ALL_VERSIONS:
        room = Room(room_version, CREATOR, **{"m.federate": False})
        room.send_member(CREATOR, "join")
        room.set_join_rule("public")
        assert room.allows(room.member(ALICE, "join"))  # same server as the creator
        with pytest.raises(AuthError, match="does not federate"):
            room.check(room.member(BOB, "join"))
        other = Room(room_version, CREATOR, **{"m.federate": "no"})
        other.send_member(CREATOR, "join")
        other.set_join_rule("public")
        assert other.allows(other.member(BOB, "join"))  # only the JSON value false counts


def test_only_joined_users_send_non_membership_events() -> None:
    for room_version in ALL_VERSIONS:
        room = _member_room(room_version)
        room.send_member(ALICE, "leave")
        with pytest.raises(AuthError, match="is not joined"):
            room.check(room.event(ALICE, "m.room.message", {"body": "hi"}))
        room.check(room.event(BOB, "m.room.message", {"body": "hi"}))


def test_required_power_levels_for_state_and_messages() -> None:
    for room_version in ALL_VERSIONS:
        room = _member_room(room_version, events={"m.room.topic": 10, "m.reaction": 60}, events_default=5)
        assert not room.allows(room.event(ALICE, "m.room.message", {"body": "hi"}))  # events_default 5
        assert room.allows(room.event(BOB, "m.room.message", {"body": "hi"}))
        assert not room.allows(room.event(BOB, "m.reaction", {}))
        assert not room.allows(room.event(ALICE, "m.room.name", {"name": "x"}, state_key=""))  # state_default 50
        assert room.allows(room.event(BOB, "m.room.name", {"name": "x"}, state_key=""))
        assert not room.allows(room.event(ALICE, "m.room.topic", {"topic": "x"}, state_key=""))
        assert room.allows(room.event(BOB, "m.room.topic", {"topic": "x"}, state_key=""))


def test_state_keys_starting_with_at_belong_to_their_user() -> None:
    for room_version in ALL_VERSIONS:
        room = _member_room(room_version)
        assert room.allows(room.event(BOB, "m.custom", {}, state_key=BOB))
        with pytest.raises(AuthError, match="starting with '@'"):
            room.check(room.event(BOB, "m.custom", {}, state_key=ALICE))
        with pytest.raises(AuthError, match="starting with '@'"):
            room.check(room.event(CREATOR, "m.custom", {}, state_key="@anything"))


def test_aliases_before_v6_need_the_senders_domain_as_state_key() -> None:
    for room_version in versions(1, 5):
        room = _member_room(room_version)
        assert room.allows(room.event(BOB, "m.room.aliases", {}, state_key=domain(BOB)))
        with pytest.raises(AuthError) as raised:
            room.check(room.event(BOB, "m.room.aliases", {}, state_key=domain(ALICE)))
        assert raised.value.rule == "4.2"
        with pytest.raises(AuthError) as raised:
            room.check(room.event(BOB, "m.room.aliases", {}))
        assert raised.value.rule == "4.1"


def test_redactions_in_v1_and_v2() -> None:
    for room_version in versions(1, 2):
        room = _member_room(room_version)
        bobs = room.send(BOB, "m.room.message", {"body": "hi"})
        alices = room.send(ALICE, "m.room.message", {"body": "hi"})
        carol_server = room.send(ALICE, "m.room.message", {"body": "x"}, event_id="$m:remote.example")
        assert room.allows(room.event(ALICE, "m.room.redaction", {}, redacts=alices.event_id))
        assert room.allows(room.event(BOB, "m.room.redaction", {}, redacts=alices.event_id))  # redact level
        with pytest.raises(AuthError) as raised:
            room.check(room.event(ALICE, "m.room.redaction", {}, redacts=bobs.event_id))
        assert raised.value.rule == "11"
        # The rule compares event id domains, not senders: a "remote" event id is "remote" whoever sent it.
        assert not room.allows(room.event(ALICE, "m.room.redaction", {}, redacts=carol_server.event_id))
        assert not room.allows(room.event(ALICE, "m.room.redaction", {}))


def test_redactions_from_v3_need_only_their_event_level() -> None:
    for room_version in versions(3):
        room = _member_room(room_version, events={"m.room.redaction": 60})
        message = room.send(ALICE, "m.room.message", {"body": "hi"})
        assert not room.allows(room.event(ALICE, "m.room.redaction", {}, redacts=message.event_id))
        room.set_power_levels(users={**room.creator_levels(), BOB: 50})
        assert room.allows(room.event(ALICE, "m.room.redaction", {}, redacts=message.event_id))


# --- bans racing joins ----------------------------------------------------------------------------------------


def test_a_join_that_raced_a_ban_fails_against_the_state_after_the_ban() -> None:
    """Carol joins and Bob bans her on two branches; each is checked against the other's outcome."""
    for room_version in ALL_VERSIONS:
        room = _member_room(room_version)
        before = dict(room.state)
        ban = room.member(BOB, "ban", CAROL)
        join = room.member(CAROL, "join")
        assert _allowed(ban, before) and _allowed(join, before)  # both fine at the fork
        after_ban = {**before, ban.state_tuple: ban}
        after_join = {**before, join.state_tuple: join}
        assert not _allowed(join, after_ban)  # soft-fails (or is rejected) once the ban is known
        assert _allowed(ban, after_join)  # the ban stands once the join is known
        message = room.event(CAROL, "m.room.message", {"body": "still here"})
        assert _allowed(message, after_join) and not _allowed(message, after_ban)


def test_a_banned_user_cannot_leave_rejoin_or_knock_and_an_unban_lets_them_back() -> None:
    for room_version in versions(7):
        room = _member_room(room_version, "knock")
        room.force_member(CAROL, "ban", sender=BOB)
        for membership in ("leave", "join", "knock"):
            assert not room.allows(room.member(CAROL, membership))
        room.send_member(BOB, "leave", CAROL)
        assert room.allows(room.member(CAROL, "knock"))
        room.set_join_rule("public")
        assert room.allows(room.member(CAROL, "join"))


def test_a_moderator_banned_in_a_race_can_no_longer_ban() -> None:
    for room_version in ALL_VERSIONS:
        room = standard_room(room_version, users={ALICE: 60, BOB: 50}, members=(ALICE, BOB, CAROL))
        before = dict(room.state)
        bans_bob = room.member(ALICE, "ban", BOB)
        bans_carol = room.member(BOB, "ban", CAROL)
        assert _allowed(bans_carol, before)
        assert not _allowed(bans_carol, {**before, bans_bob.state_tuple: bans_bob})


# --- the receipt check against the event's own auth events -----------------------------------------------------


def test_checking_against_the_events_own_auth_events() -> None:
    for room_version in ALL_VERSIONS:
        room = _member_room(room_version)
        event = room.event(ALICE, "m.room.message", {"body": "hi"})
        auth_events = room.auth_events_for(ALICE, "m.room.message", None, event.content)
        check_auth_against_auth_events(event, auth_events, create_event=room.create)
        if not room_version.create_event_in_auth_events:
            with pytest.raises(AuthError, match="unknown or rejected"):
                check_auth_against_auth_events(event, auth_events)
            with pytest.raises(AuthError, match="unknown or rejected"):
                check_auth_against_auth_events(event, auth_events, create_event=room.create,
                                               rejected_event_ids={room.create.event_id})  # fmt: skip
        check_auth_against_auth_events(room.create, [])


# --- properties -----------------------------------------------------------------------------------------------

_types = st.sampled_from(["m.room.message", "m.room.name", "m.room.topic", "m.room.power_levels",
                          "m.room.join_rules", "m.room.third_party_invite", "m.room.member", "m.room.redaction",
                          "m.custom"])  # fmt: skip
_memberships = st.sampled_from(["join", "invite", "leave", "ban", "knock", "other"])
_join_rules = st.sampled_from(["public", "invite", "knock", "restricted", "knock_restricted", "private"])


@settings(max_examples=300, deadline=None)
@given(room_version=st.sampled_from(ALL_VERSIONS), event_type=_types, membership=_memberships,
       about_self=st.booleans(), join_rule=_join_rules)  # fmt: skip
def test_a_user_without_membership_may_only_join_public_rooms_or_knock(
    room_version: RoomVersion, event_type: str, membership: str, about_self: bool, join_rule: str
) -> None:
    """"Unless you are a member of the room, the only permitted operations (apart from the initial create/join)
    are: joining a public room; accepting or rejecting an invitation" (rooms/v1, note on the rules) - and, from
    v7, knocking where the join rule allows it."""
    room = standard_room(room_version, join_rule, users={MALLORY: 100}, members=(ALICE,))
    target = MALLORY if about_self else ALICE
    if event_type == "m.room.member":
        event = room.member(MALLORY, membership, target)
    else:
        event = room.event(MALLORY, event_type, {"membership": membership}, state_key="" if about_self else None)
    knock_rules = {"knock"} | ({"knock_restricted"} if room_version.knock_restricted_join_rule else set())
    expected = event_type == "m.room.member" and about_self and (
        (membership == "join" and join_rule == "public")
        or (membership == "knock" and room_version.knock_join_rule and join_rule in knock_rules)
    )
    assert room.allows(event) is expected
