"""The m.room.power_levels rule: nobody touches levels above their own or users at their own level."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.auth import AuthError
from protocol.events.model import Event
from tests.protocol.factories import ALICE, ALL_VERSIONS, BOB, CAROL, CREATOR, Room, standard_room, version, versions

BASE: dict[str, Any] = {
    "users": {ALICE: 50, BOB: 25, CAROL: 50},
    "ban": 75,
    "kick": 50,
    "redact": 50,
    "events": {"m.room.power_levels": 50, "m.room.name": 75},
    "notifications": {"room": 75},
}


def _room(room_version: Any, **overrides: Any) -> Room:
    content = {**BASE, **overrides}
    room = standard_room(room_version, users=content.pop("users"), members=(ALICE, BOB, CAROL), **content)
    return room


def _change(room: Room, sender: str = ALICE, **changes: Any) -> Event:
    content = {**room.state[("m.room.power_levels", "")].content, **changes}
    return room.event(sender, "m.room.power_levels", content, state_key="")


def _users(room: Room, **levels: int) -> dict[str, int]:
    """The base users with changes, keyed by the short names alice/bob/carol."""
    names = {"alice": ALICE, "bob": BOB, "carol": CAROL}
    users = {**room.creator_levels(), **BASE["users"]}
    for name, level in levels.items():
        if level < 0:
            users.pop(names[name])
        else:
            users[names[name]] = level
    return users


# (description, changes as a function of the room, allowed, failing sub-rule name)
CASES: list[tuple[str, Any, bool]] = [
    ("raise another user to own level", lambda r: {"users": _users(r, bob=50)}, True),
    ("raise another user above own level", lambda r: {"users": _users(r, bob=51)}, False),
    ("demote a lower user", lambda r: {"users": _users(r, bob=0)}, True),
    ("remove a lower user", lambda r: {"users": _users(r, bob=-1)}, True),
    ("demote a user at own level", lambda r: {"users": _users(r, carol=49)}, False),
    ("remove a user at own level", lambda r: {"users": _users(r, carol=-1)}, False),
    ("demote oneself", lambda r: {"users": _users(r, alice=10)}, True),
    ("raise oneself", lambda r: {"users": _users(r, alice=60)}, False),
    ("add a user below own level", lambda r: {"users": {**_users(r), "@new:x.example": 40}}, True),
    ("lower a field that is above own level", lambda r: {"ban": 50}, False),
    ("remove a field that is above own level", lambda r: {"ban": None}, False),
    ("raise a field above own level", lambda r: {"kick": 60}, False),
    ("lower a field at own level", lambda r: {"redact": 40}, True),
    ("add a field at own level", lambda r: {"invite": 50}, True),
    ("add a field above own level", lambda r: {"state_default": 51}, False),
    ("change an event level above own level", lambda r: {"events": {"m.room.power_levels": 50, "m.room.name": 50}},
     False),
    ("remove an event level above own level", lambda r: {"events": {"m.room.power_levels": 50}}, False),
    ("add an event level at own level", lambda r: {"events": {**BASE["events"], "m.room.topic": 50}}, True),
    ("add an event level above own level", lambda r: {"events": {**BASE["events"], "m.room.topic": 51}}, False),
    ("resend unchanged", lambda r: {}, True),
]  # fmt: skip


@pytest.mark.parametrize(("description", "changes", "allowed"), CASES, ids=[case[0] for case in CASES])
def test_power_level_changes(description: str, changes: Any, allowed: bool) -> None:
    for room_version in ALL_VERSIONS:
        room = _room(room_version)
        content = {key: value for key, value in {**room.state[("m.room.power_levels", "")].content,
                                                 **changes(room)}.items() if value is not None}  # fmt: skip
        event = room.event(ALICE, "m.room.power_levels", content, state_key="")
        assert room.allows(event) is allowed, (description, room_version.identifier)


def test_notifications_are_protected_from_v6() -> None:
    for room_version in ALL_VERSIONS:
        room = _room(room_version)
        event = _change(room, notifications={"room": 0})
        assert room.allows(event) is not room_version.limit_notifications_power_levels
        raising = _change(room, notifications={"room": 75, "other": 60})
        assert room.allows(raising) is not room_version.limit_notifications_power_levels


def test_a_string_level_equal_to_the_integer_is_no_change_before_v10() -> None:
    for room_version in versions(1, 9):
        room = _room(room_version, ban="75")
        assert room.allows(_change(room, ban=75))
        assert room.allows(_change(room, users={**_users(room), CAROL: "50"}))


def test_strings_are_refused_from_v10_by_the_integer_rules() -> None:
    for room_version in versions(10):
        room = _room(room_version)
        rule_base = "10" if room_version.identifier == "12" else "9"
        for changes, sub in (({"ban": "75"}, "1"), ({"events": {"m.room.power_levels": "50"}}, "2"),
                             ({"users": {ALICE: "50"}}, "3")):  # fmt: skip
            with pytest.raises(AuthError) as raised:
                room.check(_change(room, **changes))
            assert raised.value.rule == f"{rule_base}.{sub}"


def test_users_must_be_user_ids_in_every_version() -> None:
    for room_version in ALL_VERSIONS:
        room = _room(room_version)
        with pytest.raises(AuthError, match="not a user id"):
            room.check(_change(room, users={**_users(room), "carol": 0}))


def test_the_first_power_levels_event_may_set_anything_valid() -> None:
    for room_version in versions(1, 11):
        room = Room(room_version)
        room.send_member(CREATOR, "join")
        room.check(room.event(CREATOR, "m.room.power_levels", {"users": {ALICE: 1000}, "ban": 1000}, state_key=""))


def test_sending_power_levels_needs_their_required_level_first() -> None:
    for room_version in ALL_VERSIONS:
        room = _room(room_version, events={"m.room.power_levels": 60})
        with pytest.raises(AuthError, match="needs power level 60"):
            room.check(_change(room))


def test_v12_creators_may_not_be_listed_in_users() -> None:
    room = Room(version(12), additional_creators=[ALICE])
    room.send_member(CREATOR, "join")
    room.set_join_rule("public")
    for listed in (CREATOR, ALICE):
        event = room.event(CREATOR, "m.room.power_levels", {"users": {listed: 100}}, state_key="")
        with pytest.raises(AuthError) as raised:
            room.check(event)
        assert raised.value.rule == "10.4"
    room.set_power_levels(users={BOB: 100})
    room.send_member(ALICE, "join")
    # Any creator outranks everyone: Alice (an additional creator) may demote Bob, whom the create sender raised.
    room.check(room.event(ALICE, "m.room.power_levels", {"users": {BOB: 0, CAROL: 10**9}}, state_key=""))


def test_v11_has_no_creator_exception() -> None:
    room = Room(version(11), additional_creators=[ALICE])
    room.send_member(CREATOR, "join")
    room.check(room.event(CREATOR, "m.room.power_levels", {"users": {CREATOR: 100, ALICE: 100}}, state_key=""))


def test_raising_someone_to_your_own_level_cannot_be_undone_by_you() -> None:
    for room_version in ALL_VERSIONS:
        room = _room(room_version)
        room.apply(_change(room, users=_users(room, bob=50)))
        assert not room.allows(_change(room, users=_users(room, bob=25)))


# --- properties ----------------------------------------------------------------------------------------------

_levels = st.integers(0, 100)
_user_maps = st.dictionaries(st.sampled_from([ALICE, BOB, CAROL]), _levels, max_size=3)
_contents = st.fixed_dictionaries(
    {"users": _user_maps},
    optional={key: _levels for key in ("ban", "kick", "redact", "invite", "state_default", "events_default")}
    | {"events": st.dictionaries(st.sampled_from(["m.room.name", "m.room.topic"]), _levels, max_size=2)},
)


def _room_with_levels(content: dict[str, Any], room_version: Any) -> Room:
    room = Room(room_version)
    room.send_member(CREATOR, "join")
    room.set_power_levels(**{**content, "users": {**room.creator_levels(), **content["users"]}})
    for user in (ALICE, BOB, CAROL):
        room.force_member(user, "join")
    return room


@settings(max_examples=200, deadline=None)
@given(old=_contents, new=_contents, room_version=st.sampled_from(ALL_VERSIONS))
def test_an_allowed_change_never_grants_or_touches_more_than_the_senders_level(
    old: dict[str, Any], new: dict[str, Any], room_version: Any
) -> None:
    room = _room_with_levels(old, room_version)
    sender_level = old["users"].get(ALICE, 0)
    new_content = {**new, "users": {**room.creator_levels(), **new["users"]}}
    if not room.allows(room.event(ALICE, "m.room.power_levels", new_content, state_key="")):
        return
    old_content = room.state[("m.room.power_levels", "")].content
    for key in set(old_content) | set(new_content):
        before, after = old_content.get(key), new_content.get(key)
        if isinstance(before, dict) or isinstance(after, dict):
            before, after = before or {}, after or {}
            for name in set(before) | set(after):
                if before.get(name) != after.get(name):
                    assert max(before.get(name, 0), after.get(name, 0)) <= sender_level
                    if key == "users" and name != ALICE:
                        assert before.get(name, 0) < sender_level
        elif before != after:
            assert max(before or 0, after or 0) <= sender_level


@settings(max_examples=100, deadline=None)
@given(old=_contents, new=_contents, room_version=st.sampled_from(ALL_VERSIONS))
def test_a_change_that_keeps_the_senders_own_level_can_be_undone_by_the_sender(
    old: dict[str, Any], new: dict[str, Any], room_version: Any
) -> None:
    """Unless it raised someone to the sender's own level (see the test below), or raised the level needed to send
    power levels above the sender's: removing ``state_default`` is allowed (a removed key has no new value to
    exceed the sender's level) and makes it 50."""
    room = _room_with_levels(old, room_version)
    sender_level = old["users"].get(ALICE, 0)
    new_users = {**new["users"], ALICE: sender_level}
    if any(level >= sender_level for user, level in new["users"].items() if old["users"].get(user) != level):
        return
    if new.get("state_default", 50) > sender_level:
        return
    new_content = {**new, "users": {**room.creator_levels(), **new_users}}
    forward = room.event(ALICE, "m.room.power_levels", new_content, state_key="")
    if not room.allows(forward):
        return
    old_content = dict(room.state[("m.room.power_levels", "")].content)
    room.apply(forward)
    assert room.allows(room.event(ALICE, "m.room.power_levels", old_content, state_key=""))
