"""State resolution v1 (room version 1), v2 (room versions 2-11) and v2.1 (room version 12), as pure functions over
a port.

Layer: ``protocol`` (pure, no I/O). Callers hand in the state sets, an :class:`EventSource` that reads events
(the events writer backs it with the event store), and the authorization rules as ``check_auth`` (in production
``protocol.auth.check_auth``). Spec: rooms/v1, rooms/v2 and rooms/v12 "State resolution".

:func:`resolve_state` is the entry point; the named steps are exported for tests and for callers that want one
piece (for instance the auth difference).
"""

from protocol.state_res.conflicts import auth_difference, conflicted_state_subgraph, full_conflicted_set, separate
from protocol.state_res.graph import CREATE_KEY, POWER_LEVELS_KEY, CheckAuth, EventGraph, EventSource
from protocol.state_res.iterative import AuthState, iterative_auth_checks
from protocol.state_res.ordering import (
    is_power_event,
    mainline_order,
    reverse_topological_power_order,
    sender_power_level,
)
from protocol.state_res.resolution import resolve_state

__all__ = [
    "CREATE_KEY",
    "POWER_LEVELS_KEY",
    "AuthState",
    "CheckAuth",
    "EventGraph",
    "EventSource",
    "auth_difference",
    "conflicted_state_subgraph",
    "full_conflicted_set",
    "is_power_event",
    "iterative_auth_checks",
    "mainline_order",
    "resolve_state",
    "reverse_topological_power_order",
    "sender_power_level",
    "separate",
]
