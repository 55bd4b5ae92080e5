"""Properties of state resolution over random forked histories (hypothesis).

A history is ALICE's public room (BOB and CHARLIE at 50, ZARA at 0) that forks into branches, each forking from
the room or from an earlier branch and applying a few random state events (topics, names, power levels, join
rules, joins, leaves, kicks, invites, bans) without checking them, citing auth events from the branch's state.
Timestamps often collide, so the event id tie-breaks are exercised too.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.events.model import StateKey
from protocol.room_versions import RoomVersion
from protocol.state_res import CheckAuth, resolve_state
from tests.protocol.state_res.checkers import with_each_checker
from tests.protocol.state_res.factories import (
    ALICE,
    BOB,
    CHARLIE,
    V2,
    V11,
    V12,
    ZARA,
    Node,
    RoomGraph,
    auth_keys,
    create_content,
    users,
)

USERS = (ALICE, BOB, CHARLIE, ZARA)
PROPERTIES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class HistoryBuilder:
    def __init__(self, room: RoomGraph) -> None:
        self.room = room
        self.names: dict[str, str] = {}
        self.count = 0

    def apply(self, state: dict[StateKey, str], node: Node, ts: int | None = None) -> None:
        """Build ``node`` on ``state`` (citing its auth events) and put it into ``state`` unchecked."""
        self.count += 1
        name = f"{node.name}{self.count}"
        auth = [self.names[state[key]] for key in auth_keys(self.room.version, node) if key in state]
        event = self.room.add(name, node.sender, node.type, node.state_key, node.content, auth=auth, ts=ts)
        self.names[event.event_id] = name
        state[event.state_tuple] = event.event_id


def start(history: HistoryBuilder) -> dict[StateKey, str]:
    version = history.room.version
    state: dict[StateKey, str] = {}
    history.apply(state, Node("CREATE", ALICE, "m.room.create", "", create_content(version)))
    history.apply(state, Node("MA", ALICE, "m.room.member", ALICE, {"membership": "join"}))
    content = {"users": users(version, {ALICE: 100, BOB: 50, CHARLIE: 50})}
    history.apply(state, Node("PL", ALICE, "m.room.power_levels", "", content))
    history.apply(state, Node("JR", ALICE, "m.room.join_rules", "", {"join_rule": "public"}))
    for user in (BOB, CHARLIE, ZARA):
        history.apply(state, Node("M", user, "m.room.member", user, {"membership": "join"}))
    return state


@st.composite
def random_nodes(draw: st.DrawFn, room_version: RoomVersion) -> Node:
    sender, target = draw(st.sampled_from(USERS)), draw(st.sampled_from(USERS))
    kind = draw(st.sampled_from(["topic", "name", "power", "rules", "member"]))
    if kind == "topic":
        return Node("T", sender, "m.room.topic", "", {"topic": draw(st.sampled_from("abc"))})
    if kind == "name":
        return Node("N", sender, "m.room.name", "", {"name": draw(st.sampled_from("xyz"))})
    if kind == "power":
        levels = {user: draw(st.sampled_from([0, 50, 100])) for user in (BOB, CHARLIE, ZARA)}
        return Node("P", sender, "m.room.power_levels", "", {"users": users(room_version, {ALICE: 100, **levels})})
    if kind == "rules":
        return Node("J", sender, "m.room.join_rules", "", {"join_rule": draw(st.sampled_from(["public", "invite"]))})
    membership = draw(st.sampled_from(["join", "leave", "ban", "invite"]))
    # A join's sender is its target; the other memberships may be about anyone, the sender included.
    return Node("M", target if membership == "join" else sender, "m.room.member", target, {"membership": membership})


@st.composite
def histories(draw: st.DrawFn) -> tuple[RoomGraph, list[dict[StateKey, str]]]:
    """A room and 1-4 states after forks of it."""
    version = draw(st.sampled_from([V2, V11, V12]))
    history = HistoryBuilder(RoomGraph(version))
    states = [start(history)]
    for _ in range(draw(st.integers(1, 4))):
        state = dict(draw(st.sampled_from(states)))
        for node in draw(st.lists(random_nodes(version), max_size=4)):
            history.apply(state, node, ts=draw(st.none() | st.integers(1000, 1003)))
        states.append(state)
    return history.room, states[1:]


def resolve(
    room: RoomGraph, state_sets: Sequence[Mapping[StateKey, str]], check_auth: CheckAuth
) -> dict[StateKey, str]:
    return resolve_state(room.version, state_sets, room, check_auth)


def shuffled(state: Mapping[StateKey, str], rng: random.Random) -> dict[StateKey, str]:
    items = list(state.items())
    rng.shuffle(items)
    return dict(items)


History = tuple[RoomGraph, list[dict[StateKey, str]]]


@with_each_checker
@PROPERTIES
@given(history=histories(), rng=st.randoms(use_true_random=False))
def test_the_order_of_the_state_sets_does_not_matter(
    check_auth: CheckAuth, history: History, rng: random.Random
) -> None:
    room, state_sets = history
    reordered = list(state_sets)
    rng.shuffle(reordered)
    assert resolve(room, reordered, check_auth) == resolve(room, state_sets, check_auth)


@with_each_checker
@PROPERTIES
@given(history=histories(), rng=st.randoms(use_true_random=False))
def test_the_iteration_order_of_the_state_maps_does_not_matter(
    check_auth: CheckAuth, history: History, rng: random.Random
) -> None:
    room, state_sets = history
    reshuffled = [shuffled(state, rng) for state in state_sets]
    assert resolve(room, reshuffled, check_auth) == resolve(room, state_sets, check_auth)


@with_each_checker
@PROPERTIES
@given(history=histories(), copies=st.integers(1, 3))
def test_resolving_one_state_or_copies_of_it_returns_it(check_auth: CheckAuth, history: History, copies: int) -> None:
    room, state_sets = history
    for state in state_sets:
        assert resolve(room, [state] * copies, check_auth) == state


@with_each_checker
@PROPERTIES
@given(history=histories())
def test_the_result_keeps_the_unconflicted_state_and_holds_known_state_events(
    check_auth: CheckAuth, history: History
) -> None:
    room, state_sets = history
    resolved = resolve(room, state_sets, check_auth)
    unconflicted = {key: value for key, value in state_sets[0].items() if all(s.get(key) == value for s in state_sets)}
    assert unconflicted.items() <= resolved.items()
    for key, event_id in resolved.items():
        event = room.get_event(event_id)
        assert event is not None and event.state_tuple == key
