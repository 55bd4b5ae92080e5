"""The named steps of state resolution v2, one at a time (rooms/v2 "State resolution", "Definitions")."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.events.model import Event
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from protocol.state_res import (
    EventGraph,
    auth_difference,
    is_power_event,
    mainline_order,
    reverse_topological_power_order,
    sender_power_level,
    separate,
)
from tests.protocol.state_res.factories import ALICE, BOB, CHARLIE, V2, V11, V12, RoomGraph, create_content


def test_separate_splits_by_key_and_a_key_missing_from_one_set_is_conflicted() -> None:
    a, b = ("t", "a"), ("t", "b")
    unconflicted, conflicted = separate([{a: "$1", b: "$2"}, {a: "$1", b: "$3"}, {a: "$1"}])
    assert unconflicted == {a: "$1"}
    assert conflicted == {b: {"$2", "$3"}}


def test_separate_of_nothing_is_nothing() -> None:
    assert separate([]) == ({}, {})


def chain(room: RoomGraph, *links: tuple[str, list[str]]) -> None:
    for name, auth in links:
        room.add(name, ALICE, "m.room.member", name.lower(), {}, auth=auth)


@pytest.mark.parametrize(
    ("links", "state_sets", "expected"),
    [
        # Synapse's AuthChainDifferenceTestCase: C -> B -> A; D -> C; E -> C and B.
        ([("A", []), ("B", ["A"]), ("C", ["B"])], [["A", "B"], ["C"]], {"C"}),
        ([("A", []), ("B", ["A"]), ("C", ["B"]), ("D", ["C"])], [["A", "B"], ["C", "D"]], {"C", "D"}),
        ([("A", []), ("B", ["A"]), ("C", ["B"]), ("D", ["C"]), ("E", ["C", "B"])],
         [["A", "B", "E"], ["C", "D"]], {"D", "E"}),
        # Nothing differs when one set's events are all in the other's auth chains and vice versa.
        ([("A", []), ("B", ["A"])], [["B"], ["B"]], set()),
    ],
)  # fmt: skip
def test_auth_difference_is_what_some_but_not_all_auth_chains_reach(
    links: list[tuple[str, list[str]]], state_sets: list[list[str]], expected: set[str]
) -> None:
    room = RoomGraph(V2)
    chain(room, *links)
    sets = [room.state(*names) for names in state_sets]
    assert {room.name_of(event_id) for event_id in auth_difference(sets, EventGraph(room))} == expected


@pytest.mark.parametrize(
    ("event_type", "sender", "state_key", "content", "expected"),
    [
        ("m.room.power_levels", ALICE, "", {}, True),
        ("m.room.join_rules", ALICE, "", {"join_rule": "public"}, True),
        ("m.room.member", ALICE, BOB, {"membership": "ban"}, True),
        ("m.room.member", ALICE, BOB, {"membership": "leave"}, True),  # a kick
        ("m.room.member", BOB, BOB, {"membership": "leave"}, False),  # leaving
        ("m.room.member", ALICE, BOB, {"membership": "invite"}, False),
        ("m.room.member", BOB, BOB, {"membership": "join"}, False),
        ("m.room.topic", ALICE, "", {"topic": "x"}, False),
        ("m.room.create", ALICE, "", {}, False),
        ("m.room.power_levels", ALICE, None, {}, False),  # not a state event
    ],
)
def test_power_events(event_type: str, sender: str, state_key: str | None, content: Any, expected: bool) -> None:
    event = RoomGraph(V2).add("E", sender, event_type, state_key, content)
    assert is_power_event(event) is expected


def levels_room(room_version: RoomVersion, power_levels: dict[str, Any] | None, **create: Any) -> RoomGraph:
    room = RoomGraph(room_version)
    room.add("CREATE", ALICE, "m.room.create", "", {**create_content(room_version), **create})
    room.add("MA", ALICE, "m.room.member", ALICE, {"membership": "join"}, prev=["CREATE"])
    if power_levels is not None:
        room.add("PL", ALICE, "m.room.power_levels", "", power_levels, auth=["MA"])
    return room


def level_of(room: RoomGraph, sender: str) -> int | float:
    auth = ["PL"] if "PL" in room.events else []
    event = room.add(f"T-{sender}", sender, "m.room.topic", "", {"topic": "x"}, auth=auth)
    return sender_power_level(event, EventGraph(room))


@pytest.mark.parametrize("number", ["10", "11"])
def test_sender_power_level_from_the_power_levels_auth_event(number: str) -> None:
    room = levels_room(KNOWN_ROOM_VERSIONS[number], {"users": {ALICE: 100, BOB: 50}, "users_default": 10})
    assert [level_of(room, user) for user in (ALICE, BOB, CHARLIE)] == [100, 50, 10]


@pytest.mark.parametrize("number", ["2", "10", "11"])
def test_sender_power_level_without_power_levels_is_100_for_the_creator_only(number: str) -> None:
    # v1-v10 name the creator in content.creator, v11 by the create event's sender (Synapse's test likewise).
    room = levels_room(KNOWN_ROOM_VERSIONS[number], None)
    assert [level_of(room, user) for user in (ALICE, BOB)] == [100, 0]


def test_sender_power_level_of_v12_creators_is_infinite() -> None:
    room = levels_room(V12, {"users": {BOB: 100}}, additional_creators=[CHARLIE])
    assert [level_of(room, user) for user in (ALICE, BOB, CHARLIE, "@dan:example.com")] == [
        float("inf"), 100, float("inf"), 0,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("number", "value", "expected"),
    [("2", "50", 50), ("2", " +050 ", 50), ("2", 50.9, 50), ("9", "50", 50), ("9", 50.9, 7), ("10", "50", 7)],
)
def test_sender_power_level_reads_levels_as_the_room_version_allows(number: str, value: Any, expected: int) -> None:
    # Strings until v10 (rooms/v10), floats only in v1-v5; an unreadable value falls back to users_default (7).
    room = levels_room(KNOWN_ROOM_VERSIONS[number], {"users": {BOB: value}, "users_default": 7})
    assert level_of(room, BOB) == expected


def test_reverse_topological_order_is_kahns_algorithm_with_ties_broken_by_event_id() -> None:
    # Synapse's lexicographical sort test: l, m, n and p cite o; m also cites n.
    room = RoomGraph(V2)
    for name, auth in [("o", []), ("l", ["o"]), ("n", ["o"]), ("m", ["n", "o"]), ("p", ["o"])]:
        room.add(name, ALICE, "m.room.topic", name, {}, auth=auth, ts=0)
    ids = [room.id(name) for name in "lmnop"]
    order = reverse_topological_power_order(ids, EventGraph(room), set(ids))
    assert [room.name_of(event_id) for event_id in order] == ["o", "l", "n", "m", "p"]


def test_reverse_topological_order_puts_higher_powered_senders_first_then_earlier_timestamps() -> None:
    room = levels_room(V11, {"users": {ALICE: 100, BOB: 50, CHARLIE: 50}})
    room.add("BOB", BOB, "m.room.topic", "", {}, auth=["PL"], ts=10)
    room.add("ALICE", ALICE, "m.room.topic", "", {}, auth=["PL"], ts=20)
    room.add("CHARLIE", CHARLIE, "m.room.topic", "", {}, auth=["PL"], ts=5)
    ids = [room.id(name) for name in ("BOB", "ALICE", "CHARLIE")]
    order = reverse_topological_power_order(ids, EventGraph(room), set(ids))
    assert [room.name_of(event_id) for event_id in order] == ["ALICE", "CHARLIE", "BOB"]


def test_reverse_topological_order_adds_auth_chain_events_within_the_full_conflicted_set() -> None:
    room = levels_room(V11, {"users": {ALICE: 100}})
    room.add("J", BOB, "m.room.member", BOB, {"membership": "join"}, auth=["PL"])
    room.add("K", ALICE, "m.room.member", BOB, {"membership": "leave"}, auth=["PL", "MA", "J"])
    within = {room.id("K"), room.id("J")}
    order = reverse_topological_power_order([room.id("K")], EventGraph(room), within)
    # J (BOB at 0) comes first although ALICE outranks him: K cites it. PL and MA are not in the set.
    assert [room.name_of(event_id) for event_id in order] == ["J", "K"]


def test_reverse_topological_order_refuses_an_auth_cycle() -> None:
    room = RoomGraph(V2)
    room.add("A", ALICE, "m.room.topic", "", {})
    room.add("B", ALICE, "m.room.topic", "", {}, auth=["A"])
    cyclic = dict(room.events["A"].pdu, auth_events=[[room.id("B"), {}]])
    room.by_id[room.id("A")] = Event.from_pdu(cyclic, V2)
    ids = {room.id("A"), room.id("B")}
    with pytest.raises(ValueError, match="cycle"):
        reverse_topological_power_order(ids, EventGraph(room), ids)


def test_mainline_order_sorts_by_mainline_position_then_timestamp() -> None:
    room = levels_room(V11, {"users": {ALICE: 100}})
    room.add("PL2", ALICE, "m.room.power_levels", "", {"users": {ALICE: 100}}, auth=["MA", "PL"])
    room.add("PL3", ALICE, "m.room.power_levels", "", {"users": {ALICE: 100}}, auth=["MA", "PL2"])
    room.add("OFF", ALICE, "m.room.power_levels", "", {"users": {ALICE: 100}}, auth=["MA", "PL"])  # off the mainline
    room.add("ON_PL3", ALICE, "m.room.topic", "", {}, auth=["MA", "PL3"], ts=1)
    room.add("ON_PL2", ALICE, "m.room.topic", "", {}, auth=["MA", "PL2"], ts=2)
    room.add("ON_OFF", ALICE, "m.room.topic", "", {}, auth=["MA", "OFF"], ts=3)  # meets the mainline at PL
    room.add("ON_PL", ALICE, "m.room.topic", "", {}, auth=["MA", "PL"], ts=4)
    room.add("NO_PL_LATE", ALICE, "m.room.topic", "", {}, auth=["MA"], ts=6)
    room.add("NO_PL_EARLY", ALICE, "m.room.topic", "", {}, auth=["MA"], ts=5)
    names = ["ON_PL3", "ON_PL2", "ON_OFF", "ON_PL", "NO_PL_LATE", "NO_PL_EARLY"]
    order = mainline_order([room.id(name) for name in names], room.id("PL3"), EventGraph(room))
    assert [room.name_of(event_id) for event_id in order] == [
        "NO_PL_EARLY", "NO_PL_LATE", "ON_OFF", "ON_PL", "ON_PL2", "ON_PL3",
    ]  # fmt: skip


def test_mainline_order_without_resolved_power_levels_is_by_timestamp() -> None:
    room = levels_room(V11, {"users": {ALICE: 100}})
    room.add("LATE", ALICE, "m.room.topic", "", {}, auth=["MA", "PL"], ts=9)
    room.add("EARLY", ALICE, "m.room.topic", "", {}, auth=["MA"], ts=8)
    order = mainline_order([room.id("LATE"), room.id("EARLY")], None, EventGraph(room))
    assert [room.name_of(event_id) for event_id in order] == ["EARLY", "LATE"]


def test_the_event_graph_reads_each_event_once_and_implies_the_v12_create_event() -> None:
    room = levels_room(V12, {"users": {}})
    graph = EventGraph(room)
    topic = room.add("T", BOB, "m.room.topic", "", {}, auth=["MA", "PL"])
    assert graph.auth_event_ids(topic) == (room.id("MA"), room.id("PL"), room.id("CREATE"))
    reads = room.reads
    assert graph.reachable([topic.event_id]) == {room.id(name) for name in ("T", "MA", "PL", "CREATE")}
    graph.reachable([topic.event_id])
    assert room.reads - reads == 4


def test_mainline_order_breaks_timestamp_ties_by_event_id() -> None:
    room = levels_room(V2, {"users": {ALICE: 100}})
    room.add("b", ALICE, "m.room.topic", "", {}, auth=["MA", "PL"], ts=7)
    room.add("a", ALICE, "m.room.topic", "", {}, auth=["MA", "PL"], ts=7)
    for names in (["a", "b"], ["b", "a"]):
        order = mainline_order([room.id(name) for name in names], room.id("PL"), EventGraph(room))
        assert [room.name_of(event_id) for event_id in order] == ["a", "b"]
