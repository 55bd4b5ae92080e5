"""Which of a user's rooms a sliding sync list holds, and in what order (MSC4186, pure).

Lists are sorted by recency: a room's ``bump_stamp`` is the stream position of its latest event of a type that
"bumps" a room (Synapse's default bump event types: messages, encrypted messages, stickers, call invites, polls,
live locations, and the room's creation), so a room rises for what a person sees in a room list, not for a
profile change. Ties fall back to the room id, so a list's order is total and the same on every process.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from protocol.sliding_sync.request import ListFilters

BUMP_EVENT_TYPES = (
    "m.room.create",
    "m.room.message",
    "m.room.encrypted",
    "m.sticker",
    "m.call.invite",
    "m.poll.start",
    "m.beacon_info",
)


@dataclass(frozen=True)
class RoomFacts:
    """What the list filters and the sort look at, for one room the user has a membership in."""

    room_id: str
    membership: str
    bump_stamp: int
    is_dm: bool
    is_encrypted: bool
    room_type: str | None
    tags: frozenset[str]
    parent_spaces: frozenset[str]


def passes(filters: ListFilters, room: RoomFacts) -> bool:
    """Whether a room belongs in a list with these filters (every filter set must hold)."""
    checks = (
        filters.is_dm is None or filters.is_dm == room.is_dm,
        filters.is_encrypted is None or filters.is_encrypted == room.is_encrypted,
        filters.is_invite is None or filters.is_invite == (room.membership == "invite"),
        filters.room_types is None or room.room_type in filters.room_types,
        room.room_type not in filters.not_room_types,
        filters.spaces is None or bool(room.parent_spaces & set(filters.spaces)),
        filters.tags is None or bool(room.tags & set(filters.tags)),
        not room.tags & set(filters.not_tags),
    )
    return all(checks)


def sort_by_recency(rooms: Iterable[RoomFacts]) -> list[RoomFacts]:
    return sorted(rooms, key=lambda room: (-room.bump_stamp, room.room_id))
