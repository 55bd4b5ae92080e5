"""Rooms as named event graphs for the state resolution tests, in any room version.

A :class:`RoomGraph` builds PDUs in the room version's format (v1/v2 carry ``$name:example.com`` ids; later ids
are reference hashes; v12 create events carry no room id and other events do not cite them) and is the
in-memory :class:`~protocol.state_res.EventSource`. :func:`replay_dag` replays a history given as prev-event
chains, resolving state wherever branches merge, the way Synapse's state resolution tests build their scenarios.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from protocol.events.model import Event, StateKey
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from protocol.state_res import CheckAuth, resolve_state

ALICE = "@alice:example.com"
BOB = "@bob:example.com"
CHARLIE = "@charlie:example.com"
EVELYN = "@evelyn:example.com"
ZARA = "@zara:example.com"

CREATE = ("m.room.create", "")
POWER = ("m.room.power_levels", "")
RULES = ("m.room.join_rules", "")
TOPIC = ("m.room.topic", "")

V1 = KNOWN_ROOM_VERSIONS["1"]
V2 = KNOWN_ROOM_VERSIONS["2"]
V11 = KNOWN_ROOM_VERSIONS["11"]
V12 = KNOWN_ROOM_VERSIONS["12"]


def member(user: str) -> StateKey:
    return ("m.room.member", user)


class RoomGraph:
    """One room's events by name; also the :class:`EventSource` that resolution reads them through."""

    def __init__(self, room_version: RoomVersion) -> None:
        self.version = room_version
        self.events: dict[str, Event] = {}
        self.by_id: dict[str, Event] = {}
        self.room_id = "!test:example.com"
        self.reads = 0
        self._clock = 0

    # --- the port ---

    def get_event(self, event_id: str) -> Event | None:
        self.reads += 1
        return self.by_id.get(event_id)

    # --- building ---

    def add(
        self,
        name: str,
        sender: str,
        event_type: str,
        state_key: str | None = None,
        content: Mapping[str, Any] | None = None,
        *,
        auth: Iterable[str] = (),
        prev: Iterable[str] = (),
        ts: int | None = None,
        depth: int = 1,
    ) -> Event:
        """Add event ``name`` citing the named ``auth`` and ``prev`` events; v1-v11 also cite the create event.
        ``depth`` matters to state resolution v1 only."""
        auth_names = list(auth)
        if event_type != "m.room.create" and self.version.create_event_in_auth_events and "CREATE" in self.events:
            auth_names = ["CREATE", *(n for n in auth_names if n != "CREATE")]
        if ts is None:
            self._clock += 1
            ts = self._clock
        pdu: dict[str, Any] = {
            "type": event_type,
            "sender": sender,
            "content": dict(content or {}),
            "origin_server_ts": ts,
            "depth": depth,
            "prev_events": self._references(prev),
            "auth_events": self._references(auth_names),
            "hashes": {"sha256": "unchecked"},
            "signatures": {},
        }
        if event_type != "m.room.create" or self.version.create_event_in_auth_events:
            pdu["room_id"] = self.room_id
        if state_key is not None:
            pdu["state_key"] = state_key
        if self.version.event_id_in_event:
            pdu["event_id"] = f"${name}:example.com"
        event = Event.from_pdu(pdu, self.version)
        if event_type == "m.room.create" and not self.version.create_event_in_auth_events:
            self.room_id = "!" + event.event_id[1:]
        self.events[name] = event
        self.by_id[event.event_id] = event
        return event

    def _references(self, names: Iterable[str]) -> list[Any]:
        ids = [self.events[name].event_id for name in names]
        return [[event_id, {}] for event_id in ids] if self.version.event_id_in_event else ids

    # --- reading ---

    def id(self, name: str) -> str:
        return self.events[name].event_id

    def name_of(self, event_id: str) -> str:
        return next(name for name, event in self.events.items() if event.event_id == event_id)

    def state(self, *names: str) -> dict[StateKey, str]:
        """A state map holding the named state events."""
        return {self.events[name].state_tuple: self.id(name) for name in names}

    def names(self, state: Mapping[StateKey, str]) -> dict[StateKey, str]:
        """``state`` with event names instead of ids, for readable assertions."""
        return {key: self.name_of(event_id) for key, event_id in state.items()}

    def resolve(self, check_auth: CheckAuth, *state_sets: Mapping[StateKey, str], **kwargs: Any) -> dict[StateKey, str]:
        """Resolve ``state_sets`` (as event ids) and answer with event names."""
        return self.names(resolve_state(self.version, list(state_sets), self, check_auth, **kwargs))


def users(room_version: RoomVersion, levels: Mapping[str, int]) -> dict[str, int]:
    """``users`` for a power levels event: v12 room creators (ALICE here) may not be listed (rooms/v12 10.4)."""
    if room_version.room_creators_have_infinite_power:
        return {user: level for user, level in levels.items() if user != ALICE}
    return dict(levels)


def create_content(room_version: RoomVersion) -> dict[str, Any]:
    content: dict[str, Any] = {"room_version": room_version.identifier}
    if room_version.create_event_has_creator:
        content["creator"] = ALICE
    return content


@dataclass(frozen=True)
class Node:
    """An event of a :func:`replay_dag` history; its auth events are selected from the state before it."""

    name: str
    sender: str
    type: str
    state_key: str | None = None
    content: Mapping[str, Any] = field(default_factory=dict)


def initial_nodes(room_version: RoomVersion) -> list[Node]:
    """The start of every Synapse scenario: ALICE creates a public room, then BOB, CHARLIE and ZARA join."""
    join = {"membership": "join"}
    return [
        Node("CREATE", ALICE, "m.room.create", "", create_content(room_version)),
        Node("IMA", ALICE, "m.room.member", ALICE, join),
        Node("IPOWER", ALICE, "m.room.power_levels", "", {"users": users(room_version, {ALICE: 100})}),
        Node("IJR", ALICE, "m.room.join_rules", "", {"join_rule": "public"}),
        Node("IMB", BOB, "m.room.member", BOB, join),
        Node("IMC", CHARLIE, "m.room.member", CHARLIE, join),
        Node("IMZ", ZARA, "m.room.member", ZARA, join),
        Node("START", ZARA, "m.room.message"),
        Node("END", ZARA, "m.room.message"),
    ]


INITIAL_EDGES = ["START", "IMZ", "IMC", "IMB", "IJR", "IPOWER", "IMA", "CREATE"]


def auth_keys(room_version: RoomVersion, node: Node) -> list[StateKey]:
    """Server-Server API "Auth events selection", enough of it for these scenarios (no third-party invites)."""
    if node.type == "m.room.create":
        return []
    keys = [POWER, member(node.sender)]
    if room_version.create_event_in_auth_events:
        keys.insert(0, CREATE)
    if node.type == "m.room.member" and node.state_key is not None:
        keys.append(member(node.state_key))
        if node.content.get("membership") in ("join", "invite", "knock"):
            keys.append(RULES)
    return keys


def replay_dag(
    room_version: RoomVersion, nodes: Sequence[Node], chains: Sequence[Sequence[str]], check_auth: CheckAuth
) -> tuple[RoomGraph, dict[str, dict[StateKey, str]]]:
    """Build ``nodes`` in topological order of their prev edges; return the graph and the state after each node.

    ``chains`` lists prev edges as Synapse writes them: ``["END", "B", "A"]`` means END's prev event is B and B's
    is A. Ties are broken by name and timestamps follow the build order. Where a node has several prev events the
    state before it is their resolution.
    """
    prevs: dict[str, set[str]] = {node.name: set() for node in nodes}
    for chain in [INITIAL_EDGES, *chains]:
        for later, earlier in itertools.pairwise(chain):
            prevs[later].add(earlier)
    by_name = {node.name: node for node in nodes}
    graph = RoomGraph(room_version)
    state_after: dict[str, dict[StateKey, str]] = {}
    for name in _topological(prevs):
        node = by_name[name]
        before_sets = [state_after[prev] for prev in sorted(prevs[name])]
        if not before_sets:
            before: dict[StateKey, str] = {}
        elif len(before_sets) == 1:
            before = dict(before_sets[0])
        else:
            before = resolve_state(room_version, before_sets, graph, check_auth)
        auth = [graph.name_of(before[key]) for key in auth_keys(room_version, node) if key in before]
        event = graph.add(
            name, node.sender, node.type, node.state_key, node.content, auth=auth, prev=sorted(prevs[name])
        )
        state_after[name] = {**before, event.state_tuple: event.event_id} if event.is_state else before
    return graph, state_after


def _topological(prevs: Mapping[str, set[str]]) -> list[str]:
    waiting = {name: len(earlier) for name, earlier in prevs.items()}
    later: dict[str, list[str]] = {name: [] for name in prevs}
    for name, earlier in prevs.items():
        for prev in earlier:
            later[prev].append(name)
    ready = [name for name, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for successor in later[name]:
            waiting[successor] -= 1
            if waiting[successor] == 0:
                heapq.heappush(ready, successor)
    return order


def dag_outcome(
    room_version: RoomVersion, nodes: Sequence[Node], chains: Sequence[Sequence[str]], check_auth: CheckAuth
) -> dict[StateKey, str]:
    """The state at END (by name), keeping only the keys that changed since START, as Synapse's tests compare."""
    graph, state_after = replay_dag(room_version, [*initial_nodes(room_version), *nodes], chains, check_auth)
    start, end = state_after["START"], state_after["END"]
    return graph.names({key: value for key, value in end.items() if start.get(key) != value})
