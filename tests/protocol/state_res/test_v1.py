"""State resolution v1 (room version 1): conflicts of the auth types settled in order by ascending depth and
descending ``sha1(event_id)`` while each next event is allowed; other keys take the deepest allowed event."""

from __future__ import annotations

import hashlib

from protocol.state_res import CheckAuth
from tests.protocol.state_res.factories import ALICE, BOB, CHARLIE, POWER, TOPIC, V1, RoomGraph, create_content


def room_v1() -> RoomGraph:
    """ALICE's public room with BOB at 50 and CHARLIE at 0, depths as a linear history would give them."""
    room = RoomGraph(V1)
    room.add("CREATE", ALICE, "m.room.create", "", create_content(V1), depth=1)
    room.add("MA", ALICE, "m.room.member", ALICE, {"membership": "join"}, prev=["CREATE"], depth=2)
    room.add("PL", ALICE, "m.room.power_levels", "", {"users": {ALICE: 100, BOB: 50}}, auth=["MA"], depth=3)
    room.add("JR", ALICE, "m.room.join_rules", "", {"join_rule": "public"}, auth=["MA", "PL"], depth=4)
    room.add("MB", BOB, "m.room.member", BOB, {"membership": "join"}, auth=["PL", "JR"], depth=5)
    room.add("MC", CHARLIE, "m.room.member", CHARLIE, {"membership": "join"}, auth=["PL", "JR"], depth=6)
    return room


BASE = ("CREATE", "MA", "PL", "JR", "MB", "MC")


def test_power_levels_conflicts_go_by_ascending_depth_while_allowed(check_auth: CheckAuth) -> None:
    room = room_v1()
    room.add("PL_A", ALICE, "m.room.power_levels", "", {"users": {ALICE: 100, BOB: 50, CHARLIE: 50}},
             auth=["MA", "PL"], depth=7)
    room.add("PL_B", BOB, "m.room.power_levels", "", {"users": {ALICE: 100, BOB: 100}}, auth=["MB", "PL"], depth=8)
    state = room.state(*BASE)
    # Deeper, but BOB may not raise himself to 100: the walk stops at PL_B and PL_A stands.
    resolved = room.resolve(check_auth, {**state, POWER: room.id("PL_A")}, {**state, POWER: room.id("PL_B")})
    assert resolved[POWER] == "PL_A"
    room.add("PL_C", ALICE, "m.room.power_levels", "", {"users": {ALICE: 100, BOB: 50, CHARLIE: 75}},
             auth=["MA", "PL"], depth=9)
    # Both allowed: the deeper one ends in R, whichever state set holds it.
    resolved = room.resolve(check_auth, {**state, POWER: room.id("PL_C")}, {**state, POWER: room.id("PL_A")})
    assert resolved[POWER] == "PL_C"


def test_other_conflicts_take_the_deepest_event_the_auth_rules_allow(check_auth: CheckAuth) -> None:
    room = room_v1()
    room.add("TB", BOB, "m.room.topic", "", {"topic": "bob's"}, auth=["MB", "PL"], depth=7)
    room.add("TC", CHARLIE, "m.room.topic", "", {"topic": "charlie's"}, auth=["MC", "PL"], depth=8)
    state = room.state(*BASE)
    resolved = room.resolve(check_auth, {**state, TOPIC: room.id("TB")}, {**state, TOPIC: room.id("TC")})
    assert resolved == {**room.names(state), TOPIC: "TB"}, "CHARLIE (0) may not set the topic; BOB (50) may"


def test_equal_depths_are_ordered_by_the_hash_of_the_event_id(check_auth: CheckAuth) -> None:
    room = room_v1()
    room.add("T1", BOB, "m.room.topic", "", {"topic": "one"}, auth=["MB", "PL"], depth=7)
    room.add("T2", ALICE, "m.room.topic", "", {"topic": "two"}, auth=["MA", "PL"], depth=7)
    state = room.state(*BASE)
    lowest = min(("T1", "T2"), key=lambda name: hashlib.sha1(room.id(name).encode()).hexdigest())
    resolved = room.resolve(check_auth, {**state, TOPIC: room.id("T1")}, {**state, TOPIC: room.id("T2")})
    assert resolved[TOPIC] == lowest


def test_a_key_only_some_states_hold_is_no_conflict(check_auth: CheckAuth) -> None:
    room = room_v1()
    room.add("TC", CHARLIE, "m.room.topic", "", {"topic": "charlie's"}, auth=["MC", "PL"], depth=7)
    state = room.state(*BASE)
    # rooms/v1 conflicts are different event ids for one key: TC is kept unchecked, as in every state holding it.
    assert room.resolve(check_auth, {**state, TOPIC: room.id("TC")}, state) == {**room.names(state), TOPIC: "TC"}


def test_member_conflicts_are_settled_against_the_resolved_power_levels(check_auth: CheckAuth) -> None:
    room = room_v1()
    room.add("KICK", BOB, "m.room.member", CHARLIE, {"membership": "leave"}, auth=["MB", "PL", "MC"], depth=7)
    room.add("PL_A", ALICE, "m.room.power_levels", "", {"users": {ALICE: 100, BOB: 50, CHARLIE: 50}},
             auth=["MA", "PL"], depth=8)
    state = room.state(*BASE)
    # One branch: BOB (50) kicks CHARLIE (0). The other: ALICE raises CHARLIE to 50, so BOB's kick fails in R.
    resolved = room.resolve(check_auth, {**state, ("m.room.member", CHARLIE): room.id("KICK")},
                            {**state, POWER: room.id("PL_A")})
    assert resolved[POWER] == "PL_A"
    assert resolved[("m.room.member", CHARLIE)] == "MC"
