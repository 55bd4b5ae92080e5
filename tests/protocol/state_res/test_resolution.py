"""resolve_state as a whole: what it keeps, what it takes from the caller, and what it refuses."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from protocol.errors import Forbidden
from protocol.events.model import Event, StateKey
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from protocol.state_res import AuthState, CheckAuth, EventGraph, iterative_auth_checks, resolve_state
from tests.protocol.state_res.factories import (
    ALICE,
    BOB,
    CHARLIE,
    CREATE,
    POWER,
    RULES,
    TOPIC,
    V11,
    V12,
    RoomGraph,
    create_content,
    member,
    users,
)
from tests.protocol.state_res.simple_auth import check_simple_auth

BOTH = pytest.mark.parametrize("room_version", [V11, V12], ids=["v2", "v2.1"])
NAME = ("m.room.name", "")


def reject_everything(event: Event, state: Mapping[StateKey, Event]) -> None:
    raise Forbidden("no")


def forked_room(room_version: RoomVersion) -> RoomGraph:
    """ALICE's public room with BOB and CHARLIE at 50 and a name; then each of three branches does one thing."""
    room = RoomGraph(room_version)
    room.add("CREATE", ALICE, "m.room.create", "", create_content(room_version))
    room.add("MA", ALICE, "m.room.member", ALICE, {"membership": "join"}, prev=["CREATE"])
    levels = {"users": users(room_version, {ALICE: 100, BOB: 50, CHARLIE: 50})}
    room.add("PL", ALICE, "m.room.power_levels", "", levels, auth=["MA"])
    room.add("JR", ALICE, "m.room.join_rules", "", {"join_rule": "public"}, auth=["MA", "PL"])
    room.add("MB", BOB, "m.room.member", BOB, {"membership": "join"}, auth=["PL", "JR"])
    room.add("MC", CHARLIE, "m.room.member", CHARLIE, {"membership": "join"}, auth=["PL", "JR"])
    room.add("NAME", ALICE, "m.room.name", "", {"name": "room"}, auth=["MA", "PL"])
    room.add("TB", BOB, "m.room.topic", "", {"topic": "bob's"}, auth=["MB", "PL"])
    room.add("TC", CHARLIE, "m.room.topic", "", {"topic": "charlie's"}, auth=["MC", "PL"])
    room.add("KICK", ALICE, "m.room.member", CHARLIE, {"membership": "leave"}, auth=["MA", "PL", "MC"])
    return room


BASE = ("CREATE", "MA", "PL", "JR", "MB", "MC", "NAME")


def base_state(room: RoomGraph, *changes: str) -> dict[StateKey, str]:
    return {**room.state(*BASE), **room.state(*changes)}


@BOTH
def test_unconflicted_state_carries_through(room_version: RoomVersion, check_auth: CheckAuth) -> None:
    room = forked_room(room_version)
    resolved = room.resolve(check_auth, base_state(room, "TB"), base_state(room, "TC"))
    assert resolved[NAME] == "NAME"
    assert {key: resolved[key] for key in (CREATE, POWER, RULES, member(ALICE), member(BOB))} == {
        CREATE: "CREATE", POWER: "PL", RULES: "JR", member(ALICE): "MA", member(BOB): "MB",
    }  # fmt: skip
    assert resolved[TOPIC] == "TC"  # same power level and mainline position: the later topic wins


@BOTH
def test_unconflicted_state_is_kept_even_when_nothing_passes_the_auth_rules(room_version: RoomVersion) -> None:
    room = forked_room(room_version)
    first, second = base_state(room, "TB"), base_state(room, "TC")
    # Step 5 re-applies the unconflicted state map whatever the replays did; the conflicted topic is lost.
    assert room.resolve(reject_everything, first, second) == room.names(room.state(*BASE))


@BOTH
def test_a_kick_is_applied_before_the_kicked_users_topic(room_version: RoomVersion, check_auth: CheckAuth) -> None:
    room = forked_room(room_version)
    resolved = room.resolve(check_auth, base_state(room, "KICK"), base_state(room, "TC"))
    # CHARLIE's topic is checked after the kick (a power event) and fails: he is no longer joined.
    assert resolved[member(CHARLIE)] == "KICK"
    assert TOPIC not in resolved


@BOTH
def test_three_state_sets(room_version: RoomVersion, check_auth: CheckAuth) -> None:
    room = forked_room(room_version)
    resolved = room.resolve(check_auth, base_state(room, "TB"), base_state(room, "KICK"), base_state(room, "TC"))
    assert resolved[member(CHARLIE)] == "KICK"
    assert resolved[TOPIC] == "TB"


@BOTH
def test_an_event_the_source_does_not_know_cannot_win_a_conflict(
    room_version: RoomVersion, check_auth: CheckAuth
) -> None:
    room = forked_room(room_version)
    unknown_topic = {TOPIC: "$unknown"}
    resolved = room.resolve(check_auth, base_state(room, "TB"), {**base_state(room), **unknown_topic})
    assert resolved[TOPIC] == "TB"
    # ...but unconflicted state is kept as given.
    both = {**base_state(room), ("m.room.avatar", ""): "$unknown"}
    assert resolve_state(room_version, [both, {**both, **room.state("TB")}], room, check_auth) == {
        **both, **room.state("TB"),
    }  # fmt: skip


def test_nothing_to_resolve() -> None:
    assert resolve_state(V11, [], RoomGraph(V11), check_simple_auth) == {}


def test_room_version_1_resolves_with_its_own_algorithm() -> None:
    room = forked_room(KNOWN_ROOM_VERSIONS["1"])
    # The v1 algorithm answers (its own cases: test_v1.py): a key only one set holds is kept.
    assert room.resolve(check_simple_auth, base_state(room, "TB"), base_state(room)) == room.names(
        base_state(room, "TB"))


def test_errors_other_than_matrix_errors_are_bugs_and_propagate() -> None:
    room = forked_room(V11)

    def broken(event: Event, state: Mapping[StateKey, Event]) -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        room.resolve(broken, base_state(room, "TB"), base_state(room, "TC"))


def test_auth_state_reads_the_state_first_then_the_events_own_auth_events() -> None:
    room = forked_room(V12)
    graph = EventGraph(room)
    auth_events = {member(BOB): room.events["MB"], TOPIC: room.events["TB"]}
    view = AuthState({TOPIC: room.id("TC"), NAME: "$unknown"}, auth_events, graph)
    assert view[TOPIC] == room.events["TC"]
    assert view[member(BOB)] == room.events["MB"]
    assert NAME not in view and view.get(NAME) is None
    assert set(view) == {TOPIC, member(BOB)} and len(view) == 2


def test_iterative_auth_checks_use_the_implied_v12_create_event_from_an_empty_state(check_auth: CheckAuth) -> None:
    room = forked_room(V12)
    order = [room.id(name) for name in ("PL", "JR", "MB", "TB")]
    state = iterative_auth_checks(order, {}, EventGraph(room), check_auth)
    assert room.names(state) == {POWER: "PL", RULES: "JR", member(BOB): "MB", TOPIC: "TB"}
