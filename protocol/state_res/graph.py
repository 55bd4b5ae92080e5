"""The auth event graph that state resolution walks, read through a port.

Layer: ``protocol`` (pure). State resolution needs events and their ``auth_events`` links; where they live is the
caller's business, so it reads them through :class:`EventSource` and this module adds what every step shares:
memoised fetching, the rooms/v12 implied create event, and auth chain walks.

Spec: rooms/v2 "State resolution", "Auth chain": the events reachable by walking the graph induced by an event's
``auth_events`` links.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Set
from typing import Final, Protocol

from protocol.events.ids import create_event_id_from_room_id
from protocol.events.model import Event, StateKey

CREATE_KEY: Final[StateKey] = ("m.room.create", "")
POWER_LEVELS_KEY: Final[StateKey] = ("m.room.power_levels", "")

CheckAuth = Callable[[Event, Mapping[StateKey, Event]], None]
"""The authorization rules: return if ``event`` is allowed by the state, raise a ``MatrixError`` if not.

The state maps ``(type, state_key)`` to events and always holds the room's ``m.room.create`` event when it is
known (in rooms/v12 it is the event the room id names). ``protocol.auth.check_auth`` has this shape.
"""


class EventSource(Protocol):
    """Where state resolution reads events: persisted ones, ones being persisted, or a test's dict."""

    def get_event(self, event_id: str) -> Event | None:
        """The event with this id, rejected or not, or None when it is not known."""
        ...


class EventGraph:
    """An :class:`EventSource` with memoised reads and auth-link helpers, for one resolution."""

    def __init__(self, source: EventSource) -> None:
        self._source = source
        self._events: dict[str, Event | None] = {}
        self._auth_ids: dict[str, tuple[str, ...]] = {}

    def get(self, event_id: str) -> Event | None:
        """The event, fetched from the source at most once."""
        if event_id not in self._events:
            self._events[event_id] = self._source.get_event(event_id)
        return self._events[event_id]

    def auth_event_ids(self, event: Event) -> tuple[str, ...]:
        """``event``'s auth events, plus the room's create event where the room version implies it.

        rooms/v12 "Authorization rules": the create event "MUST NOT be selected for auth_events"; the room id
        (the create event's id with ``!`` for ``$``) implies it instead. State resolution treats it as an auth
        event all the same, so that auth chains, sender power levels and the iterative auth checks see it
        (Synapse does the same).
        """
        cached = self._auth_ids.get(event.event_id)
        if cached is not None:
            return cached
        ids = event.auth_event_ids
        if not event.room_version.create_event_in_auth_events and event.type != "m.room.create":
            try:
                create_id = create_event_id_from_room_id(event.room_id, event.room_version)
            except ValueError:
                create_id = None  # a malformed room id names no create event; the auth rules reject the event
            if create_id is not None and create_id not in ids:
                ids = (*ids, create_id)
        self._auth_ids[event.event_id] = ids
        return ids

    def auth_event_ids_of(self, event_id: str) -> tuple[str, ...]:
        """:meth:`auth_event_ids` by id; an unknown event has none (the walk cannot go past it)."""
        event = self.get(event_id)
        return () if event is None else self.auth_event_ids(event)

    def auth_event_with_key(self, event: Event, key: StateKey) -> Event | None:
        """The auth event of ``event`` at ``key`` (e.g. its power levels event), or None."""
        for auth_id in self.auth_event_ids(event):
            auth_event = self.get(auth_id)
            if auth_event is not None and auth_event.state_key is not None and auth_event.state_tuple == key:
                return auth_event
        return None

    def reachable(self, start: Iterable[str], *, stop: Set[str] = frozenset()) -> set[str]:
        """``start`` and every event reachable from it by ``auth_events`` links, not entering ``stop``.

        Unknown events are included (they are named by a link) but not walked past.
        """
        found: set[str] = set()
        stack = [event_id for event_id in start if event_id not in stop]
        while stack:
            event_id = stack.pop()
            if event_id in found:
                continue
            found.add(event_id)
            stack.extend(a for a in self.auth_event_ids_of(event_id) if a not in found and a not in stop)
        return found
