"""The two orders state resolution replays events in: reverse topological power ordering and mainline ordering.

Layer: ``protocol`` (pure). Spec: rooms/v2 "State resolution", "Definitions" ("Power events", "Reverse
topological power ordering", "Mainline ordering"); unchanged in rooms/v12. Both orders are total (ties end on the
event id), so the result never depends on the order events were found in.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Set

from protocol.auth import user_power_level
from protocol.events.model import Event, StateKey
from protocol.state_res.graph import CREATE_KEY, POWER_LEVELS_KEY, EventGraph

_INFINITE = math.inf


def is_power_event(event: Event) -> bool:
    """Whether ``event`` might take away someone's ability to act (rooms/v2 "Power events").

    A state event of type ``m.room.power_levels`` or ``m.room.join_rules``, or an ``m.room.member`` state event
    with membership ``leave`` or ``ban`` whose sender is not its state key (a kick or a ban).
    """
    if not event.is_state:
        return False
    if event.type in ("m.room.power_levels", "m.room.join_rules"):
        return True
    return event.membership in ("leave", "ban") and event.sender != event.state_key


def sender_power_level(event: Event, graph: EventGraph) -> int | float:
    """The power level of ``event``'s sender according to its own auth events (the ordering's first tie-break).

    rooms/v2 "Reverse topological power ordering", comparison 1: "when looking at their respective auth_events".
    Read by the auth rules' own power-level reader (protocol.auth): ``users[sender]``, else ``users_default``,
    leniently as the room version allows; the creator's implicit 100 without a power levels event (v1-v11) and
    the v12 creators' infinite level come with it.
    """
    state: dict[StateKey, Event] = {}
    for key in (CREATE_KEY, POWER_LEVELS_KEY):
        auth_event = graph.auth_event_with_key(event, key)
        if auth_event is not None:
            state[key] = auth_event
    return user_power_level(event.sender, state)


def reverse_topological_power_order(event_ids: Iterable[str], graph: EventGraph, within: Set[str]) -> list[str]:
    """``event_ids`` and the events of their auth chains that are in ``within``, earliest first.

    rooms/v2 "Algorithm" step 1 ("enlarge X by adding the events in the auth chain of P which also belong to the
    full conflicted set") and "Reverse topological power ordering": Kahn's algorithm over the auth DAG, taking at
    each step the smallest ready event by (sender power level descending, ``origin_server_ts``, ``event_id``).

    The auth chains are followed through ``within`` only, and the DAG's edges are the direct ``auth_events``
    links between its events. Synapse and ruma both read the spec this way.
    """
    cites: dict[str, set[str]] = {}
    stack = list(event_ids)
    while stack:
        event_id = stack.pop()
        if event_id in cites:
            continue
        cites[event_id] = {a for a in graph.auth_event_ids_of(event_id) if a in within and a != event_id}
        stack.extend(cites[event_id] - cites.keys())
    cited_by: dict[str, list[str]] = {event_id: [] for event_id in cites}
    for event_id, auth_ids in cites.items():
        for auth_id in auth_ids:
            cited_by[auth_id].append(event_id)
    waiting = {event_id: len(auth_ids) for event_id, auth_ids in cites.items()}
    ready = [(_power_key(event_id, graph), event_id) for event_id, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    ordered: list[str] = []
    while ready:
        _, event_id = heapq.heappop(ready)
        ordered.append(event_id)
        for citing in cited_by[event_id]:
            waiting[citing] -= 1
            if waiting[citing] == 0:
                heapq.heappush(ready, (_power_key(citing, graph), citing))
    if len(ordered) != len(cites):
        # Only possible with chosen event ids (v1, v2); such events can never have been accepted.
        raise ValueError("the auth events of the events being resolved form a cycle")
    return ordered


def mainline_order(event_ids: Iterable[str], power_levels_id: str | None, graph: EventGraph) -> list[str]:
    """``event_ids`` in the mainline ordering based on the power levels event ``power_levels_id``.

    rooms/v2 "Mainline ordering": the mainline of P_0 is P_0, its power levels auth event P_1, and so on. An
    event's mainline position is the index i of the first P_i met by walking its power levels auth events
    (the event itself excluded), or infinity; events sort by position descending, then ``origin_server_ts``,
    then ``event_id``. With no resolved power levels event every position is infinite.
    """
    mainline: dict[str, int] = {}
    current = power_levels_id
    while current is not None and current not in mainline:
        mainline[current] = len(mainline)
        current = _power_levels_auth_id(current, graph)
    positions: dict[str, float] = {}

    def position(event_id: str) -> float:
        walked: list[str] = []
        current = _power_levels_auth_id(event_id, graph)
        found: float = _INFINITE
        while current is not None and current not in positions:
            if current in mainline:
                found = mainline[current]
                break
            walked.append(current)
            positions[current] = _INFINITE  # until found; also stops a walk round a cycle (v1/v2 ids)
            current = _power_levels_auth_id(current, graph)
        else:
            if current is not None:
                found = positions[current]
        # Every power levels event walked past meets the mainline where this event does.
        for walked_id in walked:
            positions[walked_id] = found
        return found

    def key(event_id: str) -> tuple[float, int, str]:
        event = graph.get(event_id)
        return (-position(event_id), 0 if event is None else event.origin_server_ts, event_id)

    return sorted(event_ids, key=key)


def _power_key(event_id: str, graph: EventGraph) -> tuple[float, int, str]:
    event = graph.get(event_id)
    if event is None:  # callers pass known events; an unknown one sorts as powerless
        return (0, 0, event_id)
    return (-sender_power_level(event, graph), event.origin_server_ts, event_id)


def _power_levels_auth_id(event_id: str, graph: EventGraph) -> str | None:
    event = graph.get(event_id)
    if event is None:
        return None
    power_levels = graph.auth_event_with_key(event, POWER_LEVELS_KEY)
    return None if power_levels is None else power_levels.event_id


