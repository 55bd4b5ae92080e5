"""The ``m.room.power_levels`` auth rule: what a sender may change in the room's power levels.

Spec: rooms/v1 rule 10 (v1-v5), rooms/v6 rule 9 (``notifications`` is checked like ``events``), rooms/v10 rule 9
(values must be integers), rooms/v12 rule 10 (creators may not be listed in ``users``). In short: nobody may set
or touch a value above their own level, nor change or remove another user whose level is at least their own.
Values are compared as the levels they stand for, so rewriting ``"50"`` as ``50`` is no change.
"""

from __future__ import annotations

from collections.abc import Mapping

from protocol.auth.errors import reject
from protocol.auth.power_levels import (
    LEVEL_DEFAULTS,
    POWER_LEVELS_KEY,
    InvalidPowerLevels,
    PowerLevel,
    PowerLevels,
    parse_power_levels_content,
    read_power_levels_content,
)
from protocol.events.model import Event, StateKey


def check_power_levels_change(event: Event, state: Mapping[StateKey, Event], levels: PowerLevels) -> None:
    """Reject (raise) a power levels event the sender may not send; return when it is allowed.

    ``levels`` are the effective levels of ``state`` (the levels *before* this event).
    """
    room_version = event.room_version
    try:
        new = parse_power_levels_content(event.content, room_version)
    except InvalidPowerLevels as exc:
        raise reject(room_version, "power_levels", _validation_rule(exc.key, event), str(exc)) from exc
    if room_version.room_creators_have_infinite_power:
        listed = sorted(levels.infinite_users & new.users.keys())
        if listed:
            raise reject(room_version, "power_levels", "creators", f"room creators may not be in 'users': {listed}")
    previous = state.get(POWER_LEVELS_KEY)
    if previous is None:
        return
    old = read_power_levels_content(previous.content, room_version)
    sender = event.sender
    sender_level = levels.user_level(sender)

    for key in LEVEL_DEFAULTS:
        old_value, new_value = old.fields.get(key), new.fields.get(key)
        if old_value != new_value and (_above(old_value, sender_level) or _above(new_value, sender_level)):
            raise reject(room_version, "power_levels", "fields_changed", f"cannot change {key!r} above own level")

    maps = [("events", old.events, new.events)]
    if room_version.limit_notifications_power_levels:
        maps.append(("notifications", old.notifications, new.notifications))
    for name, old_map, new_map in maps:
        for key, old_value, new_value in _changes(old_map, new_map):
            if _above(old_value, sender_level):
                raise reject(room_version, "power_levels", "maps_old_values",
                             f"cannot change {name}[{key!r}] from above own level")  # fmt: skip
            if _above(new_value, sender_level):
                raise reject(room_version, "power_levels", "maps_new_values",
                             f"cannot set {name}[{key!r}] above own level")  # fmt: skip

    for user, old_value, new_value in _changes(old.users, new.users):
        if user != sender and old_value is not None and old_value >= sender_level:
            raise reject(room_version, "power_levels", "users_old_values",
                         f"cannot change the level of {user}, who is at or above the sender's level")  # fmt: skip
        if _above(new_value, sender_level):
            raise reject(room_version, "power_levels", "users_new_values", f"cannot raise {user} above own level")


def _validation_rule(key: str, event: Event) -> str | None:
    """Which sub-rule refuses a bad value. Before v10 only ``users`` is a numbered check (rule 10.1)."""
    if key == "users":
        return "users"
    if not event.room_version.integer_only_power_levels:
        return None  # Ganglion's reading of v1-v9: unreadable values are refused under the rule as a whole.
    return "integer_maps" if key in ("events", "notifications") else "integer_fields"


def _changes(old: Mapping[str, int], new: Mapping[str, int]) -> list[tuple[str, int | None, int | None]]:
    """Entries added, changed or removed between two maps, in a stable order."""
    return [
        (key, old.get(key), new.get(key)) for key in sorted(old.keys() | new.keys()) if old.get(key) != new.get(key)
    ]


def _above(value: int | None, level: PowerLevel) -> bool:
    return value is not None and value > level
