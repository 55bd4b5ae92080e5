"""The rooms of a sliding sync response: which of the user's rooms each list holds, sorted by recency, and which
of them (within the lists' ranges, or subscribed to) the response covers, with what room config.

A list holds the rooms the user is joined to, invited to or knocking on, and the rooms they left or were banned
from since the connection's position (so the client learns of it; later they drop out), less forgotten ones.
The facts a filter needs are read only when some list filters on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from persistence.stores.events import StoredEvent
from protocol.sliding_sync.lists import RoomFacts, passes, sort_by_recency
from protocol.sliding_sync.request import RoomConfig, SlidingRequest
from protocol.sync_tokens import WriterPositions
from web.sync.rooms import SyncReader

LISTED = ("join", "invite", "knock")
DEPARTED = ("leave", "ban")
DIRECT_TYPE = "m.direct"
TAG_TYPE = "m.tag"
ENCRYPTION = "m.room.encryption"
CREATE = "m.room.create"
SPACE_CHILD = "m.space.child"


@dataclass(frozen=True)
class Membership:
    membership: str
    event: StoredEvent


@dataclass(frozen=True)
class ListedRooms:
    counts: dict[str, int]
    """list name -> how many rooms pass its filters."""
    windows: dict[str, list[str]]
    """list name -> the room ids within its ranges, in list order."""
    configs: dict[str, RoomConfig]
    """room id -> the union of the configs of every list window and subscription it is in."""
    memberships: dict[str, Membership]
    """room id -> the user's membership, for every room a list could hold or a subscription name."""
    facts: dict[str, RoomFacts]
    """room id -> what the lists filtered and sorted it by, for the listed rooms."""


def user_memberships(reader: SyncReader, since: WriterPositions | None,
                     until: WriterPositions) -> dict[str, Membership]:
    """The user's current membership per room, less departed rooms the connection already knows of (left before
    its position) and forgotten ones."""
    stores, conn = reader.deps.stores, reader.conn
    current = stores.state.list_user_memberships(conn, reader.user_id)
    found = stores.events.get_events(conn, [event_id for _, event_id in current.values()])
    recently_departed: set[str] = set()
    if since is not None and any(membership in DEPARTED for membership, _ in current.values()):
        recently_departed = {stored.room_id for stored in stores.events.list_membership_changes(
            conn, reader.user_id, since, until) if stored.event.membership in DEPARTED}
    forgotten = set(stores.forgotten_rooms.list_forgotten_rooms(conn, reader.user_id)) if any(
        membership in DEPARTED for membership, _ in current.values()) else set()
    memberships = {}
    for room_id, (membership, event_id) in current.items():
        stored = found.get(event_id)
        if stored is None or (membership in DEPARTED and (room_id not in recently_departed or room_id in forgotten)):
            continue
        memberships[room_id] = Membership(membership, stored)
    return memberships


def direct_rooms(reader: SyncReader, memberships: Mapping[str, Membership]) -> set[str]:
    """Rooms that are DMs: those the user's ``m.direct`` account data names. Not an invite's ``is_direct``, as
    Synapse decides: only the invitee's membership carries it, so the inviter's client would see no DM."""
    content = reader.deps.stores.account_data.get_account_data(reader.conn, reader.user_id, "", DIRECT_TYPE) or {}
    direct = {room_id for rooms in content.values() if isinstance(rooms, list) for room_id in rooms
              if isinstance(room_id, str)}
    return direct & set(memberships)


def _room_tags(reader: SyncReader, until: WriterPositions) -> dict[str, frozenset[str]]:
    entries = reader.deps.stores.account_data.list_account_data(reader.conn, reader.user_id, None, until)
    return {entry.room_id: frozenset(tags) for entry in entries
            if entry.room_id and entry.type == TAG_TYPE and isinstance(tags := entry.content.get("tags"), dict)}


def _room_facts(reader: SyncReader, request: SlidingRequest, memberships: Mapping[str, Membership],
                direct: set[str], until: WriterPositions) -> dict[str, RoomFacts]:
    stores, conn = reader.deps.stores, reader.conn
    filters = [sliding.filters for sliding in request.lists]
    joined = [room_id for room_id, member in memberships.items() if member.membership == "join"]
    bumps = stores.room_lists.list_bump_stamps(conn, joined, until)
    wants_state = any(f.is_encrypted is not None or f.room_types is not None or f.not_room_types for f in filters)
    state: dict[str, dict[tuple[str, str], dict[str, Any]]] = stores.room_lists.list_current_state_contents(
        conn, memberships, (ENCRYPTION, CREATE)) if wants_state else {}
    spaces = sorted({space for f in filters for space in f.spaces or ()})
    parents: dict[str, set[str]] = {}
    for space, children in stores.room_lists.list_current_state_contents(conn, spaces, (SPACE_CHILD,)).items():
        for (_, child), content in children.items():
            if isinstance(content.get("via"), list) and content["via"]:  # an empty ``via`` removes the child
                parents.setdefault(child, set()).add(space)
    tags = _room_tags(reader, until) if any(f.tags is not None or f.not_tags for f in filters) else {}
    facts = {}
    for room_id, member in memberships.items():
        room_state = state.get(room_id, {})
        room_type = room_state.get((CREATE, ""), {}).get("type")
        facts[room_id] = RoomFacts(
            room_id=room_id, membership=member.membership,
            bump_stamp=bumps.get(room_id, member.event.stream_ordering),
            is_dm=room_id in direct, is_encrypted=(ENCRYPTION, "") in room_state,
            room_type=room_type if isinstance(room_type, str) else None,
            tags=tags.get(room_id, frozenset()), parent_spaces=frozenset(parents.get(room_id, ())))
    return facts


def list_rooms(reader: SyncReader, request: SlidingRequest, memberships: dict[str, Membership],
               direct: set[str], until: WriterPositions) -> ListedRooms:
    listed = {room_id: member for room_id, member in memberships.items()
              if member.membership in LISTED or member.membership in DEPARTED}
    facts = _room_facts(reader, request, listed, direct, until) if request.lists else {}
    ordered = sort_by_recency(facts.values())
    counts: dict[str, int] = {}
    windows: dict[str, list[str]] = {}
    configs: dict[str, RoomConfig] = {}
    for sliding in request.lists:
        rooms = [room.room_id for room in ordered if passes(sliding.filters, room)]
        counts[sliding.name] = len(rooms)
        windows[sliding.name] = [rooms[index] for index in sliding.window(len(rooms))]
        for room_id in windows[sliding.name]:
            configs[room_id] = configs[room_id].combine(sliding.config) if room_id in configs else sliding.config
    for room_id, config in request.room_subscriptions:
        if room_id in memberships:  # a room the user has no membership in is not theirs to see
            configs[room_id] = configs[room_id].combine(config) if room_id in configs else config
    return ListedRooms(counts, windows, configs, memberships, facts)
