"""Where state resolution v2.1 (room version 12) and v2 (room versions 2-11) part ways.

rooms/v12 "State resolution" makes two changes, each against a kind of "state reset": the iterative auth checks
of step 2 start from an empty state instead of the unconflicted state map, and the full conflicted set also
holds the conflicted state subgraph. Each scenario is built twice from the same events, as a v11 room (v2) and a
v12 room (v2.1), after Synapse's tests/state/test_v21.py.
"""

from __future__ import annotations

from protocol.state_res import CheckAuth, EventGraph, conflicted_state_subgraph
from tests.protocol.state_res.factories import (
    ALICE,
    BOB,
    CHARLIE,
    CREATE,
    EVELYN,
    POWER,
    RULES,
    V11,
    V12,
    ZARA,
    RoomGraph,
    create_content,
    member,
    users,
)

JOIN = {"membership": "join"}


def join_rules_history(room: RoomGraph) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]]:
    """ALICE opens the room, BOB joins, ALICE makes it invite-only and leaves. A fork still cites the old rules.

    The two states differ only in the join rules, so those are the whole conflicted set; the memberships of
    their sender are unconflicted, and ALICE's is a leave.
    """
    version = room.version
    room.add("CREATE", ALICE, "m.room.create", "", create_content(version))
    room.add("MA1", ALICE, "m.room.member", ALICE, JOIN, prev=["CREATE"])
    room.add("POWER", ALICE, "m.room.power_levels", "", {"users": users(version, {ALICE: 100, BOB: 100})},
             auth=["MA1"])  # fmt: skip
    room.add("JR1", ALICE, "m.room.join_rules", "", {"join_rule": "public"}, auth=["MA1", "POWER"])
    room.add("MB", BOB, "m.room.member", BOB, JOIN, auth=["POWER", "JR1"])
    room.add("JR2", ALICE, "m.room.join_rules", "", {"join_rule": "invite"}, auth=["MA1", "POWER"])
    room.add("MA2", ALICE, "m.room.member", ALICE, {"membership": "leave"}, auth=["POWER", "MA1"])
    correct = room.state("CREATE", "MA2", "MB", "POWER", "JR2")
    forked = room.state("CREATE", "MA2", "MB", "POWER", "JR1")
    return correct, forked


def test_v2_resets_join_rules_whose_sender_has_since_left(check_auth: CheckAuth) -> None:
    room = RoomGraph(V11)
    correct, forked = join_rules_history(room)
    # Step 2 checks JR1 and JR2 against the unconflicted state, where ALICE has left: both fail, and the room is
    # left without join rules.
    resolved = room.resolve(check_auth, correct, forked)
    assert RULES not in resolved
    assert resolved == {CREATE: "CREATE", member(ALICE): "MA2", member(BOB): "MB", POWER: "POWER"}


def test_v2_1_keeps_the_latest_join_rules_by_starting_from_empty_state(check_auth: CheckAuth) -> None:
    room = RoomGraph(V12)
    correct, forked = join_rules_history(room)
    # From an empty state, each join rules event is checked against its own auth events (ALICE joined), so both
    # pass in order and the later one stays.
    resolved = room.resolve(check_auth, correct, forked)
    assert resolved == {CREATE: "CREATE", member(ALICE): "MA2", member(BOB): "MB", POWER: "POWER", RULES: "JR2"}


def power_levels_history(room: RoomGraph) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]]:
    """ALICE promotes BOB (P2), BOB promotes CHARLIE (P3). EVELYN joins under P3, then renames citing P1.

    The state after EVELYN's rename (ME2) wrongly holds P1; ZARA's join (MZ) is on the sensible branch at P3.
    P2, MB and ME1 lie on auth paths between conflicted events: the conflicted state subgraph.
    """
    version = room.version
    room.add("CREATE", ALICE, "m.room.create", "", create_content(version))
    room.add("MA", ALICE, "m.room.member", ALICE, JOIN, prev=["CREATE"])
    room.add("P1", ALICE, "m.room.power_levels", "", {"users": users(version, {ALICE: 100})}, auth=["MA"])
    room.add("JR", ALICE, "m.room.join_rules", "", {"join_rule": "public"}, auth=["MA", "P1"])
    room.add("MB", BOB, "m.room.member", BOB, JOIN, auth=["P1", "JR"])
    room.add("MC", CHARLIE, "m.room.member", CHARLIE, JOIN, auth=["P1", "JR"])
    room.add("P2", ALICE, "m.room.power_levels", "", {"users": users(version, {ALICE: 100, BOB: 50})},
             auth=["MA", "P1"])  # fmt: skip
    room.add("P3", BOB, "m.room.power_levels", "", {"users": users(version, {ALICE: 100, BOB: 50, CHARLIE: 50})},
             auth=["MB", "P2"])  # fmt: skip
    room.add("ME1", EVELYN, "m.room.member", EVELYN, JOIN, auth=["P3", "JR"])
    room.add("ME2", EVELYN, "m.room.member", EVELYN, {**JOIN, "displayname": "Eve"}, auth=["P1", "JR", "ME1"])
    room.add("MZ", ZARA, "m.room.member", ZARA, JOIN, auth=["P3", "JR"])
    dodgy = room.state("CREATE", "MA", "MB", "MC", "ME2", "P1", "JR")
    sensible = room.state("CREATE", "MA", "MB", "MC", "MZ", "P3", "JR")
    return dodgy, sensible


COMMON = {CREATE: "CREATE", member(ALICE): "MA", member(BOB): "MB", member(CHARLIE): "MC", RULES: "JR"}


def test_v2_resets_power_levels_to_an_event_cited_by_a_stale_branch(check_auth: CheckAuth) -> None:
    room = RoomGraph(V11)
    resolved = room.resolve(check_auth, *power_levels_history(room))
    # P3 is checked against P1 (BOB has 0 there) and fails: the power levels go back to P1.
    assert resolved == {**COMMON, POWER: "P1", member(EVELYN): "ME2", member(ZARA): "MZ"}


def test_v2_1_replays_the_conflicted_subgraph_and_keeps_the_latest_power_levels(check_auth: CheckAuth) -> None:
    room = RoomGraph(V12)
    resolved = room.resolve(check_auth, *power_levels_history(room))
    # P2 and MB are replayed before P3, which then passes; ME2 (in P1's epoch) is replayed before ME1 (P3's).
    assert resolved == {**COMMON, POWER: "P3", member(EVELYN): "ME1", member(ZARA): "MZ"}


def test_conflicted_state_subgraph_is_the_auth_paths_between_conflicted_events() -> None:
    room = RoomGraph(V12)
    power_levels_history(room)
    conflicted = [room.id(name) for name in ("ME2", "MZ", "P1", "P3")]
    subgraph = {room.name_of(event_id) for event_id in conflicted_state_subgraph(conflicted, EventGraph(room))}
    # MC cites JR but no conflicted event reaches MC; MA and CREATE reach no conflicted event.
    assert subgraph == {"ME2", "MZ", "P1", "P3", "ME1", "P2", "MB", "JR"}


def test_v2_1_does_not_fall_back_on_rejected_auth_events(check_auth: CheckAuth) -> None:
    room = RoomGraph(V12)
    correct, forked = join_rules_history(room)
    # Had ALICE's join been rejected, the join rules could not borrow it from their auth events.
    resolved = room.resolve(check_auth, correct, forked, rejected_event_ids={room.id("MA1")})
    assert RULES not in resolved
