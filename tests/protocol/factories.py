"""A small room factory for the auth rule tests: PDUs in each room version's format, wrapped as Events.

A :class:`Room` keeps its current state and builds each new event on the last one, citing the auth events the
selection algorithm names, so the same scenario can be replayed in every room version. Events are not signed or
hashed: the auth rules do not look at either (v1/v2 events carry their ``event_id``; v3+ ids are computed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from protocol.auth import AuthError, auth_types_for_event, check_auth
from protocol.events.model import Event, StateKey
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion

ALL_VERSIONS = list(KNOWN_ROOM_VERSIONS.values())

CREATOR = "@creator:origin.example"
ALICE = "@alice:origin.example"
BOB = "@bob:remote.example"
CAROL = "@carol:remote.example"
MALLORY = "@mallory:evil.example"


def version(number: int) -> RoomVersion:
    return KNOWN_ROOM_VERSIONS[str(number)]


def versions(first: int, last: int = 12) -> list[RoomVersion]:
    """Room versions ``first`` to ``last`` inclusive."""
    return [version(number) for number in range(first, last + 1)]


def domain(user_id: str) -> str:
    return user_id.partition(":")[2]


class Room:
    """One room's events and current state, in one room version."""

    _rooms_made = 0

    def __init__(self, room_version: RoomVersion, sender: str = CREATOR, **create_content: Any) -> None:
        self.version = room_version
        self.state: dict[StateKey, Event] = {}
        self._counter = 0
        self._number = 0
        self._last: Event | None = None
        content = {"room_version": room_version.identifier, **create_content}
        if room_version.create_event_has_creator:
            content.setdefault("creator", sender)
        Room._rooms_made += 1
        self._number = Room._rooms_made
        self.room_id = f"!room{self._number}:{domain(sender)}"
        self.create = self.send(sender, "m.room.create", content, state_key="")
        if not room_version.create_event_in_auth_events:
            self.room_id = "!" + self.create.event_id[1:]

    # --- building ---

    def pdu(
        self,
        sender: str,
        event_type: str,
        content: Mapping[str, Any] | None = None,
        *,
        state_key: str | None = None,
        prev: list[Event] | None = None,
        redacts: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """A PDU built on the last event (or ``prev``) citing the auth events selected from the current state."""
        content = dict(content or {})
        prev_events = prev if prev is not None else ([self._last] if self._last else [])
        self._counter += 1
        pdu: dict[str, Any] = {
            "type": event_type,
            "sender": sender,
            "content": content,
            "origin_server_ts": 1_000_000 * self._number + self._counter,
            "depth": max((event.depth for event in prev_events), default=0) + 1,
            "prev_events": self._references(prev_events),
            "auth_events": self._references(self.auth_events_for(sender, event_type, state_key, content)),
            "hashes": {"sha256": "unchecked"},
            "signatures": {},
        }
        if event_type != "m.room.create" or self.version.create_event_in_auth_events:
            pdu["room_id"] = self.room_id
        if state_key is not None:
            pdu["state_key"] = state_key
        if redacts is not None:
            if self.version.redacts_in_content:
                content["redacts"] = redacts
            else:
                pdu["redacts"] = redacts
        if self.version.event_id_in_event:
            pdu["event_id"] = f"${self._number}_{self._counter}:{domain(sender)}"
            pdu["origin"] = domain(sender)
        pdu.update(extra)
        return pdu

    def event(self, sender: str, event_type: str, content: Mapping[str, Any] | None = None, **kwargs: Any) -> Event:
        """An event not yet checked nor applied."""
        return Event.from_pdu(self.pdu(sender, event_type, content, **kwargs), self.version)

    def member(self, sender: str, membership: str, target: str | None = None, **content: Any) -> Event:
        return self.event(sender, "m.room.member", {"membership": membership, **content}, state_key=target or sender)

    def auth_events_for(
        self, sender: str, event_type: str, state_key: str | None, content: Mapping[str, Any]
    ) -> list[Event]:
        keys = auth_types_for_event(event_type, sender, state_key, content, self.version)
        return [self.state[key] for key in sorted(keys) if key in self.state]

    def _references(self, events: list[Event]) -> list[Any]:
        if self.version.event_id_in_event:
            return [[event.event_id, {"sha256": "unchecked"}] for event in events]
        return [event.event_id for event in events]

    # --- checking and applying ---

    def check(self, event: Event) -> None:
        """The auth rules against the current state (raises AuthError)."""
        check_auth(event, self.state)

    def allows(self, event: Event) -> bool:
        try:
            self.check(event)
        except AuthError:
            return False
        return True

    def apply(self, event: Event) -> Event:
        """Make ``event`` part of the room without checking it."""
        if event.state_key is not None:
            self.state[event.state_tuple] = event
        self._last = event
        return event

    def send(self, sender: str, event_type: str, content: Mapping[str, Any] | None = None, **kwargs: Any) -> Event:
        """Build, check against the current state and apply."""
        event = self.event(sender, event_type, content, **kwargs)
        self.check(event)
        return self.apply(event)

    def send_member(self, sender: str, membership: str, target: str | None = None, **content: Any) -> Event:
        event = self.member(sender, membership, target, **content)
        self.check(event)
        return self.apply(event)

    def force_member(self, user: str, membership: str, sender: str | None = None) -> Event:
        """Put a membership into the state without checking it: sets up the "current membership" of a matrix."""
        return self.apply(self.member(sender or user, membership, user))

    # --- common setups ---

    def set_power_levels(self, sender: str = CREATOR, **content: Any) -> Event:
        return self.send(sender, "m.room.power_levels", content, state_key="")

    def set_join_rule(self, join_rule: str, sender: str = CREATOR, **content: Any) -> Event:
        return self.send(sender, "m.room.join_rules", {"join_rule": join_rule, **content}, state_key="")

    def join(self, *users: str) -> None:
        for user in users:
            self.send_member(user, "join")

    def creator_levels(self, creator: str = CREATOR) -> dict[str, int]:
        """``users`` for a power levels event: the creator at 100 before v12; v12 creators may not be listed."""
        return {} if self.version.room_creators_have_infinite_power else {creator: 100}


def standard_room(
    room_version: RoomVersion,
    join_rule: str = "public",
    users: Mapping[str, int] | None = None,
    members: tuple[str, ...] = (),
    **levels: Any,
) -> Room:
    """Create, creator join, power levels (creator 100 plus ``users``; kick/ban/redact 50), join rules.

    ``members`` join while the room is still public; then the join rule becomes ``join_rule``.
    """
    room = Room(room_version)
    room.send_member(CREATOR, "join")
    room.set_power_levels(users={**room.creator_levels(), **(users or {})}, **levels)
    room.set_join_rule("public")
    room.join(*members)
    if join_rule != "public":
        room.set_join_rule(join_rule)
    return room
