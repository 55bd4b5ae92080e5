"""What the room directory and space hierarchies say about a room, who may see that, and who may change listings.

A summary is read from the room's current state (Client-Server API, "Published room directory" PublishedRoomsChunk
and the ``room_summary`` definition used by ``/hierarchy``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from protocol.auth import CREATE_KEY, POWER_LEVELS_KEY, power_levels_from_state
from protocol.events.model import Event, StateKey
from web.deps import Deps

NAME = ("m.room.name", "")
TOPIC = ("m.room.topic", "")
CANONICAL_ALIAS = ("m.room.canonical_alias", "")
AVATAR = ("m.room.avatar", "")
JOIN_RULES = ("m.room.join_rules", "")
HISTORY_VISIBILITY = ("m.room.history_visibility", "")
GUEST_ACCESS = ("m.room.guest_access", "")
ENCRYPTION = ("m.room.encryption", "")
SUMMARY_STATE = (CREATE_KEY, NAME, TOPIC, CANONICAL_ALIAS, AVATAR, JOIN_RULES, HISTORY_VISIBILITY, GUEST_ACCESS,
                 ENCRYPTION)
RESTRICTED_RULES = ("restricted", "knock_restricted")
KNOCKABLE_RULES = ("knock", "knock_restricted")


def current_state(deps: Deps, conn: Connection, room_id: str, keys: Collection[StateKey]) -> dict[StateKey, Event]:
    """The named entries of the room's current state, as events."""
    ids = deps.stores.state.get_current_state_ids_for(conn, room_id, keys)
    events = deps.stores.events.get_events(conn, ids.values())
    return {key: events[event_id].event for key, event_id in ids.items() if event_id in events}


def _text(state: Mapping[StateKey, Event], key: StateKey, field: str) -> str | None:
    event = state.get(key)
    value = event.content.get(field) if event is not None else None
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class RoomSummary:
    room_id: str
    room_version: str
    num_joined_members: int
    world_readable: bool
    guest_can_join: bool
    join_rule: str | None = None
    name: str | None = None
    topic: str | None = None
    canonical_alias: str | None = None
    avatar_url: str | None = None
    room_type: str | None = None
    encryption: str | None = None
    allowed_room_ids: tuple[str, ...] = ()

    def published_chunk(self) -> dict[str, Any]:
        """The PublishedRoomsChunk: optional fields only when the room has them."""
        chunk: dict[str, Any] = {"room_id": self.room_id, "num_joined_members": self.num_joined_members,
                                 "world_readable": self.world_readable, "guest_can_join": self.guest_can_join}
        for key in ("join_rule", "name", "topic", "canonical_alias", "avatar_url", "room_type"):
            value = getattr(self, key)
            if value is not None:
                chunk[key] = value
        return chunk

    def hierarchy_chunk(self) -> dict[str, Any]:
        """The ``room_summary`` fields ``/hierarchy`` adds (spec v1.15: room_version, encryption, allowed ids)."""
        chunk = {**self.published_chunk(), "room_version": self.room_version}
        if self.encryption is not None:
            chunk["encryption"] = self.encryption
        if self.join_rule in RESTRICTED_RULES:
            chunk["allowed_room_ids"] = list(self.allowed_room_ids)
        return chunk

    def matches(self, term: str) -> bool:
        """Whether a directory search term occurs in the name, topic or canonical alias (case-insensitive)."""
        wanted = term.casefold()
        return any(wanted in value.casefold() for value in (self.name, self.topic, self.canonical_alias) if value)


def summarise(deps: Deps, conn: Connection, room_id: str) -> RoomSummary | None:
    """The room's summary, or None when this server does not know the room."""
    room = deps.stores.rooms.get_room(conn, room_id)
    if room is None:
        return None
    state = current_state(deps, conn, room_id, SUMMARY_STATE)
    create = state.get(CREATE_KEY)
    room_type = create.content.get("type") if create is not None else None
    join_rules = state.get(JOIN_RULES)
    allow = join_rules.content.get("allow") if join_rules is not None else None
    allowed = tuple(entry["room_id"] for entry in allow or () if isinstance(entry, dict)
                    and entry.get("type") == "m.room_membership" and isinstance(entry.get("room_id"), str)) \
        if isinstance(allow, list) else ()
    return RoomSummary(
        room_id=room_id,
        room_version=room.room_version,
        num_joined_members=len(deps.stores.state.list_members(conn, room_id, "join")),
        world_readable=_text(state, HISTORY_VISIBILITY, "history_visibility") == "world_readable",
        guest_can_join=_text(state, GUEST_ACCESS, "guest_access") == "can_join",
        join_rule=_text(state, JOIN_RULES, "join_rule"),
        name=_text(state, NAME, "name"),
        topic=_text(state, TOPIC, "topic"),
        canonical_alias=_text(state, CANONICAL_ALIAS, "alias"),
        avatar_url=_text(state, AVATAR, "url"),
        room_type=room_type if isinstance(room_type, str) else None,
        encryption=_text(state, ENCRYPTION, "algorithm"),
        allowed_room_ids=allowed,
    )


@dataclass(frozen=True)
class Viewer:
    """A user's memberships, read once per request, to judge many rooms."""

    user_id: str
    joined: frozenset[str]
    invited: frozenset[str]

    @staticmethod
    def of(deps: Deps, conn: Connection, user_id: str) -> Viewer:
        state = deps.stores.state
        return Viewer(user_id, frozenset(state.list_rooms_with_membership(conn, user_id, "join")),
                      frozenset(state.list_rooms_with_membership(conn, user_id, "invite")))

    def may_preview(self, summary: RoomSummary) -> bool:
        """Whether ``/hierarchy`` may show the room (spec: GET /hierarchy ``rooms``): joined, invited, free to
        join (public, or restricted with a condition met), knockable, or world readable."""
        if summary.room_id in self.joined or summary.room_id in self.invited or summary.world_readable:
            return True
        if summary.join_rule == "public" or summary.join_rule in KNOCKABLE_RULES:
            return True
        return summary.join_rule in RESTRICTED_RULES and any(room in self.joined for room in summary.allowed_room_ids)


def may_edit_room_listing(deps: Deps, conn: Connection, room_id: str, user_id: str) -> bool:
    """Room moderators manage a room's aliases and directory entry: joined, with the power to send
    ``m.room.canonical_alias`` (Synapse's rule for deleting others' aliases and publishing rooms)."""
    member = ("m.room.member", user_id)
    state = current_state(deps, conn, room_id, (CREATE_KEY, POWER_LEVELS_KEY, member))
    if member not in state or state[member].membership != "join":
        return False
    levels = power_levels_from_state(state)
    return levels.user_level(user_id) >= levels.event_level(CANONICAL_ALIAS[0], is_state=True)
