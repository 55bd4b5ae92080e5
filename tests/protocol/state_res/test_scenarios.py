"""The canonical state resolution scenarios (Synapse's tests/state/test_v2.py), replayed in v2, v11 and v12.

Each history starts with ALICE creating a public room that BOB, CHARLIE and ZARA join (:func:`initial_nodes`),
forks after START and merges at END; the assertion is the state at END for the keys that changed since START.
The outcomes are the same under v2 (v2, v11) and v2.1 (v12): v2.1 only changes where replaying from an empty
state matters (see test_v2_1.py).
"""

from __future__ import annotations

import pytest

from protocol.room_versions import RoomVersion
from protocol.state_res import CheckAuth
from tests.protocol.state_res.factories import (
    ALICE,
    BOB,
    CHARLIE,
    EVELYN,
    POWER,
    RULES,
    TOPIC,
    V2,
    V11,
    V12,
    ZARA,
    Node,
    dag_outcome,
    member,
    users,
)

VERSIONS = pytest.mark.parametrize("room_version", [V2, V11, V12], ids=lambda version: f"v{version.identifier}")


def levels(room_version: RoomVersion, name: str, sender: str, **entries: int) -> Node:
    """A power levels node; keyword names are the users' localparts."""
    by_name = {"alice": ALICE, "bob": BOB, "charlie": CHARLIE}
    content = {"users": users(room_version, {by_name[user]: level for user, level in entries.items()})}
    return Node(name, sender, "m.room.power_levels", "", content)


def topic(name: str, sender: str) -> Node:
    return Node(name, sender, "m.room.topic", "", {"topic": name})


@VERSIONS
def test_ban_beats_a_concurrent_power_levels_change_by_the_banned_user(
    room_version: RoomVersion, check_auth: CheckAuth
) -> None:
    # ALICE promotes BOB, then bans him; on the other branch BOB (still at 50) sends power levels. The ban is
    # ordered first (ALICE outranks BOB), so BOB's power levels fail: he is banned by then.
    nodes = [
        levels(room_version, "PA", ALICE, alice=100, bob=50),
        Node("MA", ALICE, "m.room.member", ALICE, {"membership": "join"}),
        Node("MB", ALICE, "m.room.member", BOB, {"membership": "ban"}),
        levels(room_version, "PB", BOB, alice=100, bob=50),
    ]
    chains = [["END", "MB", "MA", "PA", "START"], ["END", "PB", "PA"]]
    outcome = dag_outcome(room_version, nodes, chains, check_auth)
    assert outcome == {POWER: "PA", member(ALICE): "MA", member(BOB): "MB"}


@VERSIONS
def test_join_rule_change_stops_a_concurrent_join(room_version: RoomVersion, check_auth: CheckAuth) -> None:
    # ALICE makes the room private while EVELYN joins on another branch: the join rules are a power event, so
    # they are applied first and EVELYN's join, checked afterwards, fails.
    nodes = [
        Node("JR", ALICE, "m.room.join_rules", "", {"join_rules": "private"}),
        Node("ME", EVELYN, "m.room.member", EVELYN, {"membership": "join"}),
    ]
    chains = [["END", "JR", "START"], ["END", "ME", "START"]]
    assert dag_outcome(room_version, nodes, chains, check_auth) == {RULES: "JR"}


@VERSIONS
def test_offtopic_power_levels_chain_is_kept(room_version: RoomVersion, check_auth: CheckAuth) -> None:
    # PA -> PB -> PC on one branch, PA alone on the other: the longest valid chain of power levels wins.
    nodes = [
        levels(room_version, "PA", ALICE, alice=100, bob=50),
        levels(room_version, "PB", BOB, alice=100, bob=50, charlie=50),
        levels(room_version, "PC", CHARLIE, alice=100, bob=50, charlie=0),
    ]
    chains = [["END", "PC", "PB", "PA", "START"], ["END", "PA"]]
    assert dag_outcome(room_version, nodes, chains, check_auth) == {POWER: "PC"}


@VERSIONS
def test_topic_basic(room_version: RoomVersion, check_auth: CheckAuth) -> None:
    # ALICE demotes BOB (PA2) while BOB, on another branch, re-asserts his level (PB) and sets the topic (T3):
    # PA2 wins over PB, T3 was authorised by the losing power levels and T2 remains.
    nodes = [
        topic("T1", ALICE),
        levels(room_version, "PA1", ALICE, alice=100, bob=50),
        topic("T2", ALICE),
        levels(room_version, "PA2", ALICE, alice=100, bob=0),
        levels(room_version, "PB", BOB, alice=100, bob=50),
        topic("T3", BOB),
    ]
    chains = [["END", "PA2", "T2", "PA1", "T1", "START"], ["END", "T3", "PB", "PA1"]]
    assert dag_outcome(room_version, nodes, chains, check_auth) == {POWER: "PA2", TOPIC: "T2"}


@VERSIONS
def test_topic_reset(room_version: RoomVersion, check_auth: CheckAuth) -> None:
    # BOB sets T2 and is then banned; merged with a branch still at T1, BOB's topic cannot stand: he is banned
    # in the resolved state when T2 is re-checked, so the topic goes back to T1.
    nodes = [
        topic("T1", ALICE),
        levels(room_version, "PA", ALICE, alice=100, bob=50),
        topic("T2", BOB),
        Node("MB", ALICE, "m.room.member", BOB, {"membership": "ban"}),
    ]
    chains = [["END", "MB", "T2", "PA", "T1", "START"], ["END", "T1"]]
    assert dag_outcome(room_version, nodes, chains, check_auth) == {TOPIC: "T1", member(BOB): "MB", POWER: "PA"}


@VERSIONS
def test_topic_after_a_message_merge(room_version: RoomVersion, check_auth: CheckAuth) -> None:
    # As test_topic_basic, with both branches joined by a message (MZ1) before ALICE sets T4 on top.
    nodes = [
        topic("T1", ALICE),
        levels(room_version, "PA1", ALICE, alice=100, bob=50),
        topic("T2", ALICE),
        levels(room_version, "PA2", ALICE, alice=100, bob=0),
        levels(room_version, "PB", BOB, alice=100, bob=50),
        topic("T3", BOB),
        Node("MZ1", ZARA, "m.room.message"),
        topic("T4", ALICE),
    ]
    chains = [["END", "T4", "MZ1", "PA2", "T2", "PA1", "T1", "START"], ["END", "MZ1", "T3", "PB", "PA1"]]
    assert dag_outcome(room_version, nodes, chains, check_auth) == {TOPIC: "T4", POWER: "PA2"}


@VERSIONS
def test_mainline_sort_prefers_events_on_later_power_levels(room_version: RoomVersion, check_auth: CheckAuth) -> None:
    # T3 cites PA2, T4 (sent later) cites PB, which loses to PA2 and sits off the mainline, so T4's position is
    # that of PA1: earlier than T3's. T3 is applied last and wins; by timestamp alone T4 would have.
    nodes = [
        topic("T1", ALICE),
        levels(room_version, "PA1", ALICE, alice=100, bob=50),
        topic("T2", ALICE),
        Node("PA2", ALICE, "m.room.power_levels", "",
             {"users": users(room_version, {ALICE: 100, BOB: 50}), "events": {"m.room.power_levels": 100}}),
        levels(room_version, "PB", BOB, alice=100, bob=50),
        topic("T3", BOB),
        topic("T4", ALICE),
    ]  # fmt: skip
    chains = [["END", "T3", "PA2", "T2", "PA1", "T1", "START"], ["END", "T4", "PB", "PA1"]]
    assert dag_outcome(room_version, nodes, chains, check_auth) == {TOPIC: "T3", POWER: "PA2"}


@VERSIONS
def test_concurrent_joins_are_both_kept(room_version: RoomVersion, check_auth: CheckAuth) -> None:
    # Synapse's SimpleParamStateTestCase: BOB and CHARLIE join at the same time; nothing conflicts but the
    # membership keys each branch lacks, and both joins pass.
    nodes = [
        Node("MB2", BOB, "m.room.member", BOB, {"membership": "join", "displayname": "Bob"}),
        Node("ME", EVELYN, "m.room.member", EVELYN, {"membership": "join"}),
    ]
    chains = [["END", "MB2", "START"], ["END", "ME", "START"]]
    outcome = dag_outcome(room_version, nodes, chains, check_auth)
    assert outcome == {member(BOB): "MB2", member(EVELYN): "ME"}
