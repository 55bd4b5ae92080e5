"""The iterative auth checks: replay sorted state events onto a state, keeping those the auth rules allow.

Layer: ``protocol`` (pure). Spec: rooms/v2 "State resolution", "Definitions", "Iterative auth checks", and
"Rejected events" (rejected auth events are not used, since auth events are not re-authorised).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator, Mapping

from protocol.errors import MatrixError
from protocol.events.model import Event, StateKey
from protocol.state_res.graph import CheckAuth, EventGraph


class AuthState(Mapping[StateKey, Event]):
    """The state an event is checked against during the iterative auth checks, read lazily.

    rooms/v2 "Iterative auth checks": the partially resolved state, and "if a (event_type, state_key) key that is
    required for checking the authorisation rules is not present in the state, then the appropriate state event
    from the event's auth_events is used if the auth event is not rejected". The auth rules only look up the keys
    they need, so nothing is copied: a lookup tries the state first, then the event's own auth events.
    """

    def __init__(self, state: Mapping[StateKey, str], auth_events: Mapping[StateKey, Event], graph: EventGraph):
        self._state = state
        self._auth_events = auth_events
        self._graph = graph

    def __getitem__(self, key: StateKey) -> Event:
        event_id = self._state.get(key)
        if event_id is not None:
            event = self._graph.get(event_id)
            if event is not None:
                return event
        return self._auth_events[key]

    def __iter__(self) -> Iterator[StateKey]:
        for key in self._state.keys() | self._auth_events.keys():
            if key in self:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)


def iterative_auth_checks(
    event_ids: Iterable[str],
    base_state: Mapping[StateKey, str],
    graph: EventGraph,
    check_auth: CheckAuth,
    rejected_event_ids: Container[str] = frozenset(),
) -> dict[StateKey, str]:
    """Apply each event of ``event_ids`` in order to a copy of ``base_state`` if the auth rules allow it.

    rooms/v2 "Iterative auth checks". An event is allowed unless ``check_auth`` raises a ``MatrixError`` (any
    other exception is a bug and propagates). Events rejected earlier for failing auth against the state at the
    event are checked as usual (rooms/v2 "Rejected events"); ``rejected_event_ids`` only keeps rejected events out
    of the auth events an event falls back on.
    """
    state = dict(base_state)
    for event_id in event_ids:
        event = graph.get(event_id)
        if event is None or event.state_key is None:
            continue
        try:
            check_auth(event, AuthState(state, _usable_auth_events(event, graph, rejected_event_ids), graph))
        except MatrixError:
            continue
        state[event.state_tuple] = event_id
    return state


def _usable_auth_events(event: Event, graph: EventGraph, rejected_event_ids: Container[str]) -> dict[StateKey, Event]:
    """``event``'s known, not rejected, state auth events by key (rooms/v12: the implied create event too)."""
    usable: dict[StateKey, Event] = {}
    for auth_id in graph.auth_event_ids(event):
        if auth_id in rejected_event_ids:
            continue
        auth_event = graph.get(auth_id)
        if auth_event is not None and auth_event.state_key is not None:
            usable[auth_event.state_tuple] = auth_event
    return usable
