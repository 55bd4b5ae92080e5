"""What state resolution has to decide: the conflicted events, the auth difference and the full conflicted set.

Layer: ``protocol`` (pure). Spec: rooms/v2 "State resolution", "Definitions" ("Unconflicted state map and
conflicted state set", "Auth difference", "Full conflicted set"), and rooms/v12 (state resolution v2.1), which adds
the "Conflicted state subgraph" to the full conflicted set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from protocol.events.model import StateKey
from protocol.room_versions import StateResolution
from protocol.state_res.graph import EventGraph

StateMap = Mapping[StateKey, str]


def separate(state_sets: Sequence[StateMap]) -> tuple[dict[StateKey, str], dict[StateKey, set[str]]]:
    """Split the state sets into the unconflicted state map and the conflicted state set (by key).

    A key is unconflicted when every state set holds it with the same event; a key missing from some set is
    conflicted (rooms/v2 "Unconflicted state map and conflicted state set": "present in every S_i").
    """
    unconflicted: dict[StateKey, str] = {}
    conflicted: dict[StateKey, set[str]] = {}
    keys: set[StateKey] = set()
    for state_set in state_sets:
        keys.update(state_set)
    for key in keys:
        values = [state_set.get(key) for state_set in state_sets]
        first = values[0]
        if first is not None and all(value == first for value in values):
            unconflicted[key] = first
        else:
            conflicted[key] = {value for value in values if value is not None}
    return unconflicted, conflicted


def auth_difference(state_sets: Sequence[StateMap], graph: EventGraph) -> set[str]:
    """The union of the C_i minus their intersection, C_i the full auth chain of S_i (rooms/v2 "Auth difference").

    C_i here includes S_i's own events as well as their auth chains, as Synapse computes it. The spec's wording
    ("the union of the auth chains for each event in S_i") leaves them out; the two readings differ only for
    unconflicted state events that some but not all C_i reach, which the reading used here keeps out of the full
    conflicted set (step 5 puts them back into the result either way).

    Events every set holds are in every C_i, so their shared closure is computed once and each set only walks
    from its own events until it meets it.
    """
    if not state_sets:
        return set()
    shared_events = set(state_sets[0].values()).intersection(*(state_set.values() for state_set in state_sets[1:]))
    shared = graph.reachable(shared_events)
    own = [graph.reachable(state_set.values(), stop=shared) for state_set in state_sets]
    return own[0].union(*own[1:]) - own[0].intersection(*own[1:])


def conflicted_state_subgraph(conflicted_events: Iterable[str], graph: EventGraph) -> set[str]:
    """The events on ``auth_events`` paths between two conflicted events, endpoints included (rooms/v12).

    rooms/v12 "Conflicted state subgraph": an event X is in it exactly when X is reachable from some conflicted
    event (following ``auth_events``) and some conflicted event is reachable from X; every conflicted event is
    (trivially). Found by walking down from the conflicted events, then back up from them within what was found.
    """
    conflicted = set(conflicted_events)
    below = graph.reachable(conflicted)
    cited_by: dict[str, list[str]] = {}
    for event_id in below:
        for auth_id in graph.auth_event_ids_of(event_id):
            cited_by.setdefault(auth_id, []).append(event_id)
    subgraph: set[str] = set()
    stack = [event_id for event_id in conflicted if event_id in below]
    while stack:
        event_id = stack.pop()
        if event_id in subgraph:
            continue
        subgraph.add(event_id)
        stack.extend(citing for citing in cited_by.get(event_id, ()) if citing not in subgraph)
    return subgraph


def full_conflicted_set(
    algorithm: StateResolution,
    state_sets: Sequence[StateMap],
    conflicted: Mapping[StateKey, set[str]],
    graph: EventGraph,
) -> set[str]:
    """The conflicted state set, the auth difference and (v2.1) the conflicted state subgraph, together.

    Spec: rooms/v2 "Full conflicted set"; rooms/v12 "Full conflicted set" (changed in v12). Only known state
    events are kept: an event the source does not have cannot be authorised, and a non-state event has no place
    in the state (Synapse likewise drops events it cannot fetch).
    """
    conflicted_events = set().union(*conflicted.values())
    candidates = conflicted_events | auth_difference(state_sets, graph)
    if algorithm is StateResolution.V2_1:
        candidates |= conflicted_state_subgraph(conflicted_events, graph)
    full: set[str] = set()
    for event_id in candidates:
        event = graph.get(event_id)
        if event is not None and event.is_state:
            full.add(event_id)
    return full
