"""The ``Filter`` a client uploads for ``/sync`` (pure; Client-Server API, "Filtering"): parsed once, applied per
section, plus ``event_fields`` projection.

Parsing is strict about types (``M_BAD_JSON`` naming the field) and lenient about unknown keys, as the spec's
filters are extended by MSCs that a server may not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from protocol.errors import BadJson
from protocol.filters import EVERYTHING, RoomEventFilter, optional_flag, room_id_list, string_list

EVENT_FORMATS = ("client", "federation")


def _sub_filter(data: Mapping[str, Any], key: str) -> RoomEventFilter:
    value = data.get(key)
    if value is None:
        return EVERYTHING
    if not isinstance(value, Mapping):
        raise BadJson(f"Filter field '{key}' must be an object")
    return RoomEventFilter.parse(value)


@dataclass(frozen=True)
class RoomFilter:
    rooms: tuple[str, ...] | None = None
    not_rooms: tuple[str, ...] = ()
    include_leave: bool = False
    timeline: RoomEventFilter = EVERYTHING
    state: RoomEventFilter = EVERYTHING
    ephemeral: RoomEventFilter = EVERYTHING
    account_data: RoomEventFilter = EVERYTHING

    def wants_room(self, room_id: str) -> bool:
        return room_id not in self.not_rooms and (self.rooms is None or room_id in self.rooms)


@dataclass(frozen=True)
class SyncFilter:
    event_fields: tuple[str, ...] | None = None
    event_format: str = "client"
    presence: RoomEventFilter = EVERYTHING
    account_data: RoomEventFilter = EVERYTHING
    room: RoomFilter = field(default_factory=RoomFilter)

    @staticmethod
    def parse(data: Any) -> SyncFilter:
        if not isinstance(data, Mapping):
            raise BadJson("A filter must be a JSON object")
        event_format = data.get("event_format", "client")
        if event_format not in EVENT_FORMATS:
            raise BadJson("Filter field 'event_format' must be 'client' or 'federation'")
        fields = string_list(data, "event_fields")
        if fields is not None and any(not name for name in fields):
            raise BadJson("Filter field 'event_fields' must not hold empty names")
        room = data.get("room")
        if room is not None and not isinstance(room, Mapping):
            raise BadJson("Filter field 'room' must be an object")
        room = room or {}
        return SyncFilter(
            event_fields=fields,
            event_format=event_format,
            presence=_sub_filter(data, "presence"),
            account_data=_sub_filter(data, "account_data"),
            room=RoomFilter(
                rooms=room_id_list(room, "rooms"),
                not_rooms=room_id_list(room, "not_rooms") or (),
                include_leave=bool(optional_flag(room, "include_leave")),
                timeline=_sub_filter(room, "timeline"),
                state=_sub_filter(room, "state"),
                ephemeral=_sub_filter(room, "ephemeral"),
                account_data=_sub_filter(room, "account_data"),
            ),
        )


DEFAULT_FILTER = SyncFilter()


def _field_path(name: str) -> list[str]:
    """``content.body`` -> ``["content", "body"]``; ``\\.`` is a literal dot inside a key (spec: event_fields)."""
    parts, current, escaped = [], [], False
    for char in name:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def project_fields(event: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """Only the named (possibly nested) fields of ``event``; a field that is absent is left out."""
    projected: dict[str, Any] = {}
    for name in fields:
        path = _field_path(name)
        value: Any = event
        for key in path:
            if not isinstance(value, Mapping) or key not in value:
                break
            value = value[key]
        else:
            target = projected
            for key in path[:-1]:
                target = target.setdefault(key, {})
            target[path[-1]] = value
    return projected
