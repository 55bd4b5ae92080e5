"""Power levels: reading ``m.room.power_levels`` per room version, its defaults, and who holds which level.

Spec: Client-Server API ``m.room.power_levels`` (the defaults), Server-Server API "Checks performed on receipt
of a PDU", "Definitions" (required power level; invite, kick, ban and redact levels), rooms/v1 "m.room.power_levels
events accept values as strings" and "... as floats", rooms/v10 "Values in m.room.power_levels events must be
integers", and rooms/v12 (room creators have an infinitely high power level).

Two readings of the same content:

- :func:`parse_power_levels_content` is strict: it is what the auth rules apply to a *new* power levels event,
  and raises :class:`InvalidPowerLevels` naming the first value the room version does not accept;
- :meth:`PowerLevels.from_content` is lenient: it reads an *accepted* event, so an unreadable value (which only
  old rooms can hold) falls back to its default instead of making the room unusable.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, TypeAlias

from protocol.events.model import Event, StateKey
from protocol.identifiers import is_valid_user_id
from protocol.room_versions import RoomVersion

PowerLevel: TypeAlias = int | float
"""A user's level: an integer, or :data:`CREATOR_POWER_LEVEL` for the creators of a v12 room."""

# rooms/v12 "Authorization rules": "The power level of room creators is infinitely high."
CREATOR_POWER_LEVEL: Final[float] = math.inf
# Spec: m.room.power_levels: "If the room contains no m.room.power_levels event, the room's creator has a power
# level of 100" (room versions 1-11).
IMPLICIT_CREATOR_POWER_LEVEL: Final = 100

CREATE_KEY: Final[StateKey] = ("m.room.create", "")
POWER_LEVELS_KEY: Final[StateKey] = ("m.room.power_levels", "")

# The top-level integer properties and their defaults (spec: m.room.power_levels; Server-Server API
# "Definitions": the invite level defaults to 0, the kick, ban and redact levels to 50).
LEVEL_DEFAULTS: Final[Mapping[str, int]] = MappingProxyType(
    {"users_default": 0, "events_default": 0, "state_default": 50, "ban": 50, "kick": 50, "redact": 50, "invite": 0}
)
# Spec: m.room.power_levels ``notifications.room``: "Defaults to 50 if unspecified". Other keys have no default in
# the spec; Synapse's push rules use 50 for every key, and so do we.
NOTIFICATION_DEFAULT: Final = 50

# rooms/v1 "m.room.power_levels events accept values as strings": base 10 digits with any leading zeroes, an
# optional single sign, and leading or trailing whitespace. ASCII only: Python's int() would also take other
# scripts' digits, underscores and Unicode spaces, which the spec does not allow.
_STRINGY_INTEGER = re.compile(r"[ \t\n\r\f\v]*[+-]?[0-9]+[ \t\n\r\f\v]*")


class InvalidPowerLevels(ValueError):
    """A power levels event holds a value its room version does not accept; ``key`` names where."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def parse_power_level(value: object, room_version: RoomVersion) -> int | None:
    """The integer ``value`` stands for in ``room_version``, or None when it is not a power level there.

    Integers always; from v10 nothing else (rooms/v10). Before v10 a string holding an integer (rooms/v1
    "... accept values as strings"); in v1-v5, the versions that include rooms/v1 "... accept values as floats"
    (exactly those without strict Canonical JSON), a finite float truncated towards zero. JSON booleans are never
    levels, although Python counts them as integers.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if room_version.integer_only_power_levels:
        return None
    if isinstance(value, str) and _STRINGY_INTEGER.fullmatch(value):
        try:
            return int(value)
        except ValueError:  # more digits than Python converts; no real room holds such a level
            return None
    if isinstance(value, float) and not room_version.strict_canonical_json and math.isfinite(value):
        return int(value)
    return None


@dataclass(frozen=True)
class PowerLevelsContent:
    """The values a power levels event states explicitly; an absent key is absent here too."""

    fields: Mapping[str, int] = field(default_factory=dict)
    users: Mapping[str, int] = field(default_factory=dict)
    events: Mapping[str, int] = field(default_factory=dict)
    notifications: Mapping[str, int] = field(default_factory=dict)


def parse_power_levels_content(content: Mapping[str, Any], room_version: RoomVersion) -> PowerLevelsContent:
    """Strictly read a new power levels event; raise :class:`InvalidPowerLevels` at the first bad value.

    Checks rooms/v10 rules 9.1-9.3 (v1-v9 rule 10.1 checks ``users`` only). Before v10 we also refuse values that
    cannot be read as levels under the version's rules at all (``"ban": "high"``): the change rules must compare
    them, and Synapse in effect refuses them too (its ``int()`` raises). ``notifications`` is only read where the
    rules read it (v6+, rooms/v6 rules 9.4 and 9.5).
    """
    return _read_content(content, room_version, strict=True)


def read_power_levels_content(content: Mapping[str, Any], room_version: RoomVersion) -> PowerLevelsContent:
    """Leniently read an accepted power levels event: unreadable values are left out (so they take defaults)."""
    return _read_content(content, room_version, strict=False)


def _read_content(content: Mapping[str, Any], room_version: RoomVersion, *, strict: bool) -> PowerLevelsContent:
    fields: dict[str, int] = {}
    for key in LEVEL_DEFAULTS:
        if key in content:
            level = parse_power_level(content[key], room_version)
            if level is not None:
                fields[key] = level
            elif strict:
                raise InvalidPowerLevels(key, f"{key!r} is not a power level: {content[key]!r}")
    check_notifications = strict and room_version.limit_notifications_power_levels
    return PowerLevelsContent(
        fields=fields,
        users=_read_map(content, "users", room_version, strict=strict, user_keys=True),
        events=_read_map(content, "events", room_version, strict=strict),
        notifications=_read_map(content, "notifications", room_version, strict=check_notifications),
    )


def _read_map(
    content: Mapping[str, Any], key: str, room_version: RoomVersion, *, strict: bool, user_keys: bool = False
) -> dict[str, int]:
    value = content.get(key, {})
    if not isinstance(value, Mapping):
        if strict:
            raise InvalidPowerLevels(key, f"{key!r} is not an object")
        return {}
    levels: dict[str, int] = {}
    for name, raw in value.items():
        level = parse_power_level(raw, room_version)
        if user_keys and not is_valid_user_id(name):
            if strict:
                raise InvalidPowerLevels(key, f"{key!r} has a key that is not a user id: {name!r}")
            continue
        if level is None:
            if strict:
                raise InvalidPowerLevels(key, f"{key}[{name!r}] is not a power level: {raw!r}")
            continue
        levels[name] = level
    return levels


def room_creator(create_event: Event) -> str | None:
    """The user who created the room: ``content.creator`` in v1-v10, the create event's sender from v11.

    Spec: rooms/v11 "Remove the creator property of m.room.create events"; auth rule 4.3.1 (v11) / 5.3.1 (v12).
    """
    if create_event.room_version.create_event_has_creator:
        creator = create_event.content.get("creator")
        return creator if isinstance(creator, str) else None
    return create_event.sender


def room_creators(create_event: Event) -> frozenset[str]:
    """The room creators: from v12 the sender plus ``content.additional_creators``, else :func:`room_creator`.

    Spec: rooms/v12 "Client considerations" and "Authorization rules". Entries of ``additional_creators`` that
    are not strings are ignored here; auth rule 1.4 keeps them out of accepted create events.
    """
    if not create_event.room_version.room_creators_have_infinite_power:
        creator = room_creator(create_event)
        return frozenset() if creator is None else frozenset({creator})
    additional = create_event.content.get("additional_creators")
    extra = [user for user in additional if isinstance(user, str)] if isinstance(additional, list) else []
    return frozenset({create_event.sender, *extra})


@dataclass(frozen=True)
class PowerLevels:
    """The effective power levels of a room state: explicit values, defaults, and v12's infinite creators."""

    users: Mapping[str, int] = field(default_factory=dict)
    events: Mapping[str, int] = field(default_factory=dict)
    notifications: Mapping[str, int] = field(default_factory=dict)
    users_default: int = LEVEL_DEFAULTS["users_default"]
    events_default: int = LEVEL_DEFAULTS["events_default"]
    state_default: int = LEVEL_DEFAULTS["state_default"]
    ban: int = LEVEL_DEFAULTS["ban"]
    kick: int = LEVEL_DEFAULTS["kick"]
    redact: int = LEVEL_DEFAULTS["redact"]
    invite: int = LEVEL_DEFAULTS["invite"]
    # rooms/v12: users with infinite power, whatever ``users`` says.
    infinite_users: frozenset[str] = frozenset()

    @staticmethod
    def from_content(
        content: Mapping[str, Any], room_version: RoomVersion, infinite_users: frozenset[str] = frozenset()
    ) -> PowerLevels:
        """The levels an accepted power levels event grants (lenient: see :func:`read_power_levels_content`)."""
        read = read_power_levels_content(content, room_version)
        fields = {**LEVEL_DEFAULTS, **read.fields}
        return PowerLevels(
            users=read.users,
            events=read.events,
            notifications=read.notifications,
            users_default=fields["users_default"],
            events_default=fields["events_default"],
            state_default=fields["state_default"],
            ban=fields["ban"],
            kick=fields["kick"],
            redact=fields["redact"],
            invite=fields["invite"],
            infinite_users=infinite_users,
        )

    def user_level(self, user_id: str) -> PowerLevel:
        """``user_id``'s level: infinite for v12 creators, else ``users[user_id]``, else ``users_default``."""
        if user_id in self.infinite_users:
            return CREATOR_POWER_LEVEL
        return self.users.get(user_id, self.users_default)

    def event_level(self, event_type: str, *, is_state: bool) -> int:
        """The *required power level* to send an event (Server-Server API, "Definitions").

        ``events[event_type]`` when listed, else ``state_default`` for state events and ``events_default`` for
        the rest.
        """
        default = self.state_default if is_state else self.events_default
        return self.events.get(event_type, default)

    def notification_level(self, key: str) -> int:
        """The level needed to trigger the ``key`` notification, e.g. ``"room"`` for ``@room``."""
        return self.notifications.get(key, NOTIFICATION_DEFAULT)


def power_levels_from_state(state: Mapping[StateKey, Event]) -> PowerLevels:
    """The effective power levels of ``state`` (its ``m.room.power_levels`` and ``m.room.create`` events).

    Without a power levels event every user has 0 except the room creator, who has 100 in v1-v11 (spec:
    m.room.power_levels ``users_default``); in v12 the creators have infinite power with or without one.
    """
    create_event = state.get(CREATE_KEY)
    power_levels_event = state.get(POWER_LEVELS_KEY)
    infinite: frozenset[str] = frozenset()
    if create_event is not None and create_event.room_version.room_creators_have_infinite_power:
        infinite = room_creators(create_event)
    if power_levels_event is not None:
        return PowerLevels.from_content(power_levels_event.content, power_levels_event.room_version, infinite)
    if create_event is None or infinite:
        return PowerLevels(infinite_users=infinite)
    creator = room_creator(create_event)
    return PowerLevels(users={} if creator is None else {creator: IMPLICIT_CREATOR_POWER_LEVEL})


def user_power_level(user_id: str, state: Mapping[StateKey, Event]) -> PowerLevel:
    """``user_id``'s power level in ``state``; state resolution reads a sender's level from its auth events."""
    return power_levels_from_state(state).user_level(user_id)
