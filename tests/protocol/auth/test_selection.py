"""Auth events selection (Server-Server API) and the auth rule about an event's ``auth_events``."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.auth import AuthError, auth_types_for_event, check_auth_events
from protocol.events.model import Event
from tests.protocol.factories import ALICE, ALL_VERSIONS, BOB, CAROL, CREATOR, Room, standard_room, version, versions

CREATE = ("m.room.create", "")
POWER = ("m.room.power_levels", "")
RULES = ("m.room.join_rules", "")


def member(user: str) -> tuple[str, str]:
    return ("m.room.member", user)


@pytest.mark.parametrize(
    ("event_type", "state_key", "content", "expected"),
    [
        ("m.room.message", None, {"body": "hi"}, {POWER, member(ALICE)}),
        ("m.room.name", "", {"name": "x"}, {POWER, member(ALICE)}),
        ("m.room.member", ALICE, {"membership": "join"}, {POWER, member(ALICE), RULES}),
        ("m.room.member", BOB, {"membership": "invite"}, {POWER, member(ALICE), member(BOB), RULES}),
        ("m.room.member", ALICE, {"membership": "knock"}, {POWER, member(ALICE), RULES}),
        ("m.room.member", BOB, {"membership": "ban"}, {POWER, member(ALICE), member(BOB)}),
        ("m.room.member", ALICE, {"membership": "leave"}, {POWER, member(ALICE)}),
        ("m.room.member", BOB, {"membership": "invite", "third_party_invite": {"signed": {"token": "tok"}}},
         {POWER, member(ALICE), member(BOB), RULES, ("m.room.third_party_invite", "tok")}),
        ("m.room.member", BOB, {"membership": "invite", "third_party_invite": {"signed": {"token": 5}}},
         {POWER, member(ALICE), member(BOB), RULES}),
        ("m.room.member", ALICE, {"membership": "leave", "third_party_invite": {"signed": {"token": "tok"}}},
         {POWER, member(ALICE)}),
    ],
)  # fmt: skip
def test_selection_per_event_shape(
    event_type: str, state_key: str | None, content: dict[str, Any], expected: set[tuple[str, str]]
) -> None:
    for room_version in ALL_VERSIONS:
        with_create = expected | ({CREATE} if int(room_version.identifier) < 12 else set())
        assert auth_types_for_event(event_type, ALICE, state_key, content, room_version) == with_create


def test_the_create_event_cites_nothing() -> None:
    for room_version in ALL_VERSIONS:
        assert auth_types_for_event("m.room.create", ALICE, "", {}, room_version) == set()


def test_the_authorising_users_membership_is_selected_from_v8() -> None:
    content = {"membership": "join", "join_authorised_via_users_server": CAROL}
    for room_version in ALL_VERSIONS:
        types = auth_types_for_event("m.room.member", ALICE, ALICE, content, room_version)
        assert (member(CAROL) in types) is room_version.restricted_join_rule
        invite = auth_types_for_event("m.room.member", ALICE, BOB, {**content, "membership": "invite"}, room_version)
        assert member(CAROL) not in invite


def test_events_built_by_selection_pass_the_auth_events_rule() -> None:
    for room_version in ALL_VERSIONS:
        room = standard_room(room_version, users={ALICE: 50})
        room.join(ALICE)
        event = room.member(ALICE, "invite", BOB)
        auth_events = room.auth_events_for(ALICE, "m.room.member", BOB, event.content)
        by_key = check_auth_events(event, auth_events)
        assert set(by_key) == {event.state_tuple for event in auth_events}
        assert (CREATE in by_key) is room_version.create_event_in_auth_events


def _cite(room: Room, event_type: str, auth_events: list[Event], **kwargs: Any) -> Event:
    """An event whose auth_events are exactly ``auth_events``."""
    pdu = room.pdu(ALICE, event_type, {"body": "x"}, **kwargs)
    if room.version.event_id_in_event:
        pdu["auth_events"] = [[event.event_id, {}] for event in auth_events]
    else:
        pdu["auth_events"] = [event.event_id for event in auth_events]
    return Event.from_pdu(pdu, room.version)


def _failed_rule(event: Event, auth_events: list[Event], **kwargs: Any) -> str:
    with pytest.raises(AuthError) as raised:
        check_auth_events(event, auth_events, **kwargs)
    return raised.value.rule


def test_duplicate_unexpected_rejected_and_foreign_auth_events_are_refused() -> None:
    for room_version in ALL_VERSIONS:
        top = "3" if room_version.identifier == "12" else "2"
        room = standard_room(room_version)
        room.join(ALICE)
        alice_join = room.state[member(ALICE)]
        power = room.state[POWER]
        rules = room.state[RULES]
        # Two power levels events (one replaced): a duplicate (type, state_key).
        old_power = room.apply(room.event(CREATOR, "m.room.power_levels", {"users": room.creator_levels()},
                                          state_key=""))  # fmt: skip
        assert _failed_rule(_cite(room, "m.room.message", [alice_join, power, old_power]), [alice_join, power,
                                                                                            old_power]) == f"{top}.1"
        # Join rules are not selected for a message.
        assert _failed_rule(_cite(room, "m.room.message", [alice_join, rules]), [alice_join, rules]) == f"{top}.2"
        # An event rejected on receipt.
        event = _cite(room, "m.room.message", [alice_join])
        assert _failed_rule(event, [alice_join], rejected_event_ids={alice_join.event_id}) == f"{top}.3"
        # An event of another room.
        other = standard_room(room_version)
        other.join(ALICE)
        foreign = other.state[member(ALICE)]
        cited = [foreign, room.create] if room_version.create_event_in_auth_events else [foreign]
        assert _failed_rule(_cite(room, "m.room.message", cited), cited) == f"{top}.{4 if top == '3' else 5}"


def test_the_create_event_must_be_cited_before_v12_and_must_not_be_from_v12() -> None:
    for room_version in ALL_VERSIONS:
        room = standard_room(room_version)
        room.join(ALICE)
        alice_join = room.state[member(ALICE)]
        without = _cite(room, "m.room.message", [alice_join])
        with_create = _cite(room, "m.room.message", [room.create, alice_join])
        if room_version.create_event_in_auth_events:
            assert _failed_rule(without, [alice_join]) == "2.4"
            check_auth_events(with_create, [room.create, alice_join])
        else:
            check_auth_events(without, [alice_join])
            assert _failed_rule(with_create, [room.create, alice_join]) == "3.2"


def test_a_missing_auth_event_is_the_callers_error() -> None:
    room = standard_room(version(10))
    room.join(ALICE)
    event = room.event(ALICE, "m.room.message", {"body": "x"})
    with pytest.raises(ValueError, match="not supplied"):
        check_auth_events(event, [])


def test_create_events_pass_the_auth_events_rule() -> None:
    for room_version in versions(1):
        room = Room(room_version)
        assert check_auth_events(room.create, []) == {}
        assert room.create.sender == CREATOR
