"""State resolution v2 (room versions 2-11) and v2.1 (room version 12): the resolution of a set of states
(room version 1's, v1, is in ``v1.py``).

Layer: ``protocol`` (pure). Spec: rooms/v2 "State resolution", "Algorithm" steps 1-5, and rooms/v12 "State
resolution" (v2.1: the iterative auth checks of step 2 start from an empty state, and the full conflicted set
also holds the conflicted state subgraph). The room state before an event is the resolution of the states after
its ``prev_events``; this module computes that resolution.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence

from protocol.events.model import StateKey
from protocol.room_versions import RoomVersion, StateResolution
from protocol.state_res.conflicts import full_conflicted_set, separate
from protocol.state_res.graph import POWER_LEVELS_KEY, CheckAuth, EventGraph, EventSource
from protocol.state_res.iterative import iterative_auth_checks
from protocol.state_res.ordering import is_power_event, mainline_order, reverse_topological_power_order
from protocol.state_res.v1 import resolve_state_v1


def resolve_state(
    room_version: RoomVersion,
    state_sets: Sequence[Mapping[StateKey, str]],
    events: EventSource,
    check_auth: CheckAuth,
    *,
    rejected_event_ids: Container[str] = frozenset(),
) -> dict[StateKey, str]:
    """Resolve ``state_sets`` (each mapping ``(type, state_key)`` to an event id) into one state.

    ``events`` must know every event of the state sets and of their auth chains; events it does not know take
    no part (they cannot be authorised), except that unconflicted state is kept as given. ``check_auth`` applies
    the room version's authorization rules (see :data:`~protocol.state_res.graph.CheckAuth`).
    ``rejected_event_ids`` holds events rejected on receipt, which the iterative auth checks must not fall back on
    as auth events (rooms/v2 "Rejected events"); a lazy container (a store lookup) will do.

    Room version 1 resolves with its own algorithm (:func:`~protocol.state_res.v1.resolve_state_v1`).
    """
    algorithm = room_version.state_resolution
    if algorithm is StateResolution.V1:
        return resolve_state_v1(state_sets, events, check_auth)
    unconflicted, conflicted = separate(state_sets)
    if not conflicted:
        return unconflicted
    graph = EventGraph(events)
    full = full_conflicted_set(algorithm, state_sets, conflicted, graph)

    # Step 1: the power events of the full conflicted set and the events of their auth chains within it, in the
    # reverse topological power ordering.
    power_events = [event_id for event_id in full if (event := graph.get(event_id)) and is_power_event(event)]
    power_order = reverse_topological_power_order(power_events, graph, full)

    # Step 2: the iterative auth checks from the unconflicted state map (v2), or from an empty state (v2.1, changed
    # in rooms/v12): then every key comes from the replayed events or their own auth events, and unconflicted state
    # that no longer holds (an old join rule, a member who has left) cannot make the power events fail.
    base = {} if algorithm is StateResolution.V2_1 else unconflicted
    partial = iterative_auth_checks(power_order, base, graph, check_auth, rejected_event_ids)

    # Step 3: every other event of the full conflicted set, in the mainline ordering based on the power levels
    # of the partially resolved state.
    picked = set(power_order)
    others = mainline_order((e for e in full if e not in picked), partial.get(POWER_LEVELS_KEY), graph)

    # Step 4: the iterative auth checks of those on the partially resolved state.
    resolved = iterative_auth_checks(others, partial, graph, check_auth, rejected_event_ids)

    # Step 5: unconflicted state always wins over what the replay produced.
    resolved.update(unconflicted)
    return resolved
