"""A PDU with typed accessors: what the auth rules, state resolution and storage read an event through.

The JSON stays the source of truth (it is what was hashed and signed); :class:`Event` only adds the event id
(computed once for v3+) and safe accessors, so malformed fields read as absent rather than crash a checker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from protocol.events.ids import event_id_of
from protocol.room_versions import RoomVersion

StateKey = tuple[str, str]
"""``(event type, state key)``: where a state event sits in a room's state."""


@dataclass(frozen=True)
class Event:
    event_id: str
    room_version: RoomVersion
    pdu: Mapping[str, Any] = field(repr=False)

    @staticmethod
    def from_pdu(pdu: Mapping[str, Any], room_version: RoomVersion) -> Event:
        """Wrap a PDU in its room version's federation format; v3+ ids are computed from the content."""
        return Event(event_id_of(pdu, room_version), room_version, pdu)

    def _text(self, key: str) -> str:
        value = self.pdu.get(key)
        return value if isinstance(value, str) else ""

    @property
    def type(self) -> str:
        return self._text("type")

    @property
    def sender(self) -> str:
        return self._text("sender")

    @property
    def room_id(self) -> str:
        """The room id; v12 create events carry none (the room id is derived from them)."""
        return self._text("room_id")

    @property
    def state_key(self) -> str | None:
        value = self.pdu.get("state_key")
        return value if isinstance(value, str) else None

    @property
    def is_state(self) -> bool:
        return self.state_key is not None

    @property
    def state_tuple(self) -> StateKey:
        if self.state_key is None:
            raise ValueError(f"{self.event_id} is not a state event")
        return (self.type, self.state_key)

    @property
    def content(self) -> Mapping[str, Any]:
        value = self.pdu.get("content")
        return value if isinstance(value, Mapping) else {}

    @property
    def depth(self) -> int:
        value = self.pdu.get("depth")
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    @property
    def origin_server_ts(self) -> int:
        value = self.pdu.get("origin_server_ts")
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    @property
    def prev_event_ids(self) -> tuple[str, ...]:
        return _event_ids(self.pdu.get("prev_events"))

    @property
    def auth_event_ids(self) -> tuple[str, ...]:
        return _event_ids(self.pdu.get("auth_events"))

    @property
    def membership(self) -> str | None:
        """``content.membership`` of an ``m.room.member`` event, else None."""
        if self.type != "m.room.member":
            return None
        value = self.content.get("membership")
        return value if isinstance(value, str) else None

    @property
    def redacts(self) -> str | None:
        """The redacted event id: in ``content`` from v11, top-level before (spec: rooms/v11 "Event format")."""
        if self.type != "m.room.redaction":
            return None
        value = self.content.get("redacts") if self.room_version.redacts_in_content else self.pdu.get("redacts")
        return value if isinstance(value, str) else None


def _event_ids(value: object) -> tuple[str, ...]:
    """prev_events/auth_events: a list of ids from v3, a list of ``[id, hashes]`` pairs in v1/v2."""
    if not isinstance(value, list):
        return ()
    ids = []
    for item in value:
        if isinstance(item, str):
            ids.append(item)
        elif isinstance(item, list) and item and isinstance(item[0], str):
            ids.append(item[0])
    return tuple(ids)
