"""State resolution v1 (room version 1): the resolution of a set of states, by depth and event id hash.

Layer: ``protocol`` (pure). Spec: rooms/v1 "State resolution". Starting from the unconflicted state *R*, the
conflicts of the event types the auth rules read are settled first, in order (power levels, join rules,
memberships): per conflicted key, its events sorted by ascending depth then descending ``sha1(event_id)``; the first
enters *R*, and each next one replaces it while the auth rules allow it in *R*, the walk stopping at the first that
is not allowed. Every other conflicted key takes the event of highest depth, then lowest ``sha1(event_id)``, that
the auth rules allow in *R*. The spec leaves open what a key gets when none is allowed: like Synapse, the last of
that order (the lowest depth), so a conflicted key never drops out of the state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from protocol.errors import MatrixError
from protocol.events.model import Event, StateKey
from protocol.state_res.graph import CheckAuth, EventGraph, EventSource
from protocol.state_res.iterative import AuthState

AUTH_TYPES = ("m.room.power_levels", "m.room.join_rules", "m.room.member")
"""The types whose conflicts are settled first, in this order (the ones the auth rules read besides the create)."""


def separate_v1(state_sets: Sequence[Mapping[StateKey, str]]) -> tuple[dict[StateKey, str], dict[StateKey, set[str]]]:
    """The unconflicted state and the conflicted events by key. Unlike v2's, a key some sets lack is not a
    conflict: rooms/v1 has one only "where those states have different event_ids for the same key"."""
    values: dict[StateKey, set[str]] = {}
    for state_set in state_sets:
        for key, event_id in state_set.items():
            values.setdefault(key, set()).add(event_id)
    unconflicted = {key: next(iter(ids)) for key, ids in values.items() if len(ids) == 1}
    return unconflicted, {key: ids for key, ids in values.items() if len(ids) > 1}


def _sha1(event: Event) -> str:
    return hashlib.sha1(event.event_id.encode("utf-8")).hexdigest()


def _known(event_ids: set[str], graph: EventGraph) -> list[Event]:
    return [event for event_id in event_ids if (event := graph.get(event_id)) is not None]


def _allowed(event: Event, state: Mapping[StateKey, str], graph: EventGraph, check_auth: CheckAuth) -> bool:
    try:
        check_auth(event, AuthState(state, {}, graph))
    except MatrixError:
        return False
    return True


def _resolve_auth_key(candidates: list[Event], state: dict[StateKey, str], graph: EventGraph,
                      check_auth: CheckAuth) -> None:
    """Settle one conflicted key of an auth type into ``state``: ascending depth, descending hash; the first
    goes in, each next one while it is allowed."""
    ordered = sorted(candidates, key=_sha1, reverse=True)
    ordered.sort(key=lambda event: event.depth)  # stable: equal depths keep the descending hash order
    state[ordered[0].state_tuple] = ordered[0].event_id
    for event in ordered[1:]:
        if not _allowed(event, state, graph, check_auth):
            break
        state[event.state_tuple] = event.event_id


def _resolve_other_key(candidates: list[Event], state: dict[StateKey, str], graph: EventGraph,
                       check_auth: CheckAuth) -> str:
    """The event one conflicted key of another type takes: highest depth, lowest hash, allowed in ``state``."""
    ordered = sorted(candidates, key=lambda event: (-event.depth, _sha1(event)))
    for event in ordered:
        if _allowed(event, state, graph, check_auth):
            return event.event_id
    return ordered[-1].event_id


def resolve_state_v1(state_sets: Sequence[Mapping[StateKey, str]], events: EventSource,
                     check_auth: CheckAuth) -> dict[StateKey, str]:
    """Resolve ``state_sets`` with rooms/v1's algorithm; conflicted events ``events`` does not know take no part
    (a key none of whose events is known keeps no entry)."""
    unconflicted, conflicted = separate_v1(state_sets)
    resolved = dict(unconflicted)
    if not conflicted:
        return resolved
    graph = EventGraph(events)
    for event_type in AUTH_TYPES:
        for key in sorted(key for key in conflicted if key[0] == event_type):
            candidates = _known(conflicted[key], graph)
            if candidates:
                _resolve_auth_key(candidates, resolved, graph, check_auth)
    # Every other key is judged against R as the auth types left it, not as earlier other keys change it.
    settled = dict(resolved)
    for key in sorted(key for key in conflicted if key[0] not in AUTH_TYPES):
        candidates = _known(conflicted[key], graph)
        if candidates:
            resolved[key] = _resolve_other_key(candidates, settled, graph, check_auth)
    return resolved
