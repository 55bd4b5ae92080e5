"""Each room of a sliding sync response (MSC4186): timeline, ``required_state``, name, avatar, heroes, counts.

A room the connection never sent comes ``initial``: its latest ``timeline_limit`` events and every state entry
``required_state`` asks for, as of now. A room it sent before gets only what happened since it was last sent up
to: the new events (``num_live`` of them), the asked-for state entries that changed, the ``$LAZY`` members it had
not sent, and the entries of ``required_state`` pairs it did not ask for then; a room with none of that is left
out. A room sent with a smaller ``timeline_limit`` than now asked for is sent its latest events afresh, marked
``expanded_timeline``. Unlike ``/sync``'s ``state``, ``required_state`` is the state at the *end* of the
timeline. An invite or knock is its stripped state (``invite_state``). A room the user left is seen up to their leave.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any

from persistence.stores.events import StoredEvent
from protocol.sliding_sync.connection_state import SentRoom
from protocol.sliding_sync.lists import BUMP_EVENT_TYPES
from protocol.sliding_sync.request import RoomConfig
from protocol.sliding_sync.required_state import MEMBER
from protocol.sync_filters import SyncFilter
from protocol.sync_tokens import WriterPositions
from protocol.tokens import START, RoomPosition
from web.sliding_sync.room_list import Membership
from web.sync.notifications import read_positions
from web.sync.rooms import MAX_HEROES, SyncReader, Timeline, prev_batch, read_timelines, stripped_state

StateMap = dict[tuple[str, str], str]
STRIPPED = ("invite", "knock")
NAME = ("m.room.name", "")
AVATAR = ("m.room.avatar", "")


@dataclass(frozen=True)
class BuiltRooms:
    bodies: dict[str, dict[str, Any]]
    sent: dict[str, SentRoom]
    """What the connection has sent after this response, every room it ever sent included."""
    fresh: set[str]
    """Rooms sent whole (initial) in this response: extensions send them everything, not a delta."""


@dataclass
class _Room:
    room_id: str
    member: Membership
    config: RoomConfig
    prev: SentRoom | None
    timeline: Timeline | None = None
    expanded: bool = False

    @property
    def since(self) -> WriterPositions | None:
        return None if self.prev is None or self.expanded else self.prev.until

    @property
    def departed(self) -> bool:
        return self.member.membership in ("leave", "ban")


def build_rooms(reader: SyncReader, configs: Mapping[str, RoomConfig], memberships: Mapping[str, Membership],
                bump_stamps: Mapping[str, int], direct: Collection[str], sent_before: Mapping[str, SentRoom],
                receipts_changed: Collection[str], until: WriterPositions) -> BuiltRooms:
    """``sent_before``: what the connection had sent (empty for a new one); ``receipts_changed``: rooms where the
    user's own receipts moved since its position (their unread counts changed, so they are sent)."""
    bodies: dict[str, dict[str, Any]] = {}
    sent = dict(sent_before)
    rooms = [_Room(room_id, memberships[room_id], config, _previously(sent_before.get(room_id), memberships[room_id]))
             for room_id, config in sorted(configs.items())]
    stripped = [room for room in rooms if room.member.membership in STRIPPED]
    for room in stripped:
        if room.prev is not None and not _changed_since(reader, room, until):
            continue
        # Invites and knocks alike carry their stripped state as ``invite_state``, a plain list, as Synapse's do.
        bodies[room.room_id] = {"invite_state": _invite_state(reader, room.member.event), "notification_count": 0,
                                "highlight_count": 0}
    full = [room for room in rooms if room.member.membership not in STRIPPED]
    for room in full:
        room.expanded = room.prev is not None and room.config.timeline_limit > room.prev.timeline_limit
    _read_timelines(reader, full, until)
    changed = [room for room in full if room.prev is None or room.expanded or _has_news(room)
               or room.config.required_state.added_since(room.prev.required_state).pairs
               or room.room_id in receipts_changed]
    summarised: set[str] = set()
    lazy = _write_room_bodies(reader, changed, bodies, until, summarised)
    _add_counts(reader, changed, bodies, until, summarised)
    for room in rooms:
        body = bodies.get(room.room_id)
        if body is not None:
            if room.prev is None:
                body["initial"] = True
            if room.room_id in direct:
                body["is_dm"] = True
            if _bump_due(room):
                body["bump_stamp"] = bump_stamps.get(room.room_id, room.member.event.stream_ordering)
        lazy_members = (room.prev.lazy_members if room.prev is not None else frozenset()) | lazy.get(
            room.room_id, frozenset())
        sent[room.room_id] = SentRoom(until, room.config.timeline_limit, room.config.required_state,
                                      lazy_members if room.config.required_state.lazy_members else frozenset(),
                                      stripped=room.member.membership in STRIPPED)
    return BuiltRooms(bodies, sent, {room.room_id for room in rooms if room.prev is None})


def bump_stamps_of(reader: SyncReader, room_ids: Collection[str], memberships: Mapping[str, Membership],
                   until: WriterPositions) -> dict[str, int]:
    """For rooms no list sorted (subscriptions alone): their bump stamps, read the way lists read them."""
    joined = [room_id for room_id in room_ids if memberships[room_id].membership == "join"]
    return reader.deps.stores.room_lists.list_bump_stamps(reader.conn, joined, until)


def _previously(sent: SentRoom | None, member: Membership) -> SentRoom | None:
    """What the client holds of the room: nothing usable when it was sent as an invite or knock and is now
    joined (or left), since stripped state is not the room's state: it is then sent whole, ``initial``."""
    if sent is not None and sent.stripped and member.membership not in STRIPPED:
        return None
    return sent


def _invite_state(reader: SyncReader, member: StoredEvent) -> list[dict[str, Any]]:
    """``/sync``'s stripped state, with the inviter's (or knocker's room's sender's) own membership before the
    user's, as Synapse sends it: clients name a DM invite after whoever sent it."""
    stripped = stripped_state(reader, member)
    sender = member.event.sender
    if sender == reader.user_id:
        return stripped
    group = reader.deps.stores.state.get_event_state_group(reader.conn, member.event_id)
    state = reader.deps.stores.state.get_state_ids_for_groups(
        reader.conn, [group], [(MEMBER, sender)]).get(group, {}) if group is not None else {}
    found = reader.deps.stores.events.get_event(reader.conn, state[(MEMBER, sender)]) \
        if (MEMBER, sender) in state else None
    if found is None:
        return stripped
    inviter = {"type": MEMBER, "state_key": sender, "sender": sender, "content": dict(found.event.content)}
    # /sync's stripped state may hold the inviter's membership already (in its place by stream order): once here.
    others = [entry for entry in stripped[:-1] if (entry.get("type"), entry.get("state_key")) != (MEMBER, sender)]
    return [*others, inviter, stripped[-1]]


def _bump_due(room: _Room) -> bool:
    """Whether the response carries the room's ``bump_stamp``: when the client may not know it (a room new to it, a
    room it is not joined to, a timeline with a gap) or it moved (a bump event in the timeline); an unchanged one is
    left out, as Synapse leaves it out."""
    timeline = room.timeline
    return (room.prev is None or room.member.membership != "join" or timeline is None or timeline.limited
            or any(stored.event.type in BUMP_EVENT_TYPES for stored in timeline.events))


def _changed_since(reader: SyncReader, room: _Room, until: WriterPositions) -> bool:
    """Whether the user's membership event in the room came after the room was last sent."""
    assert room.prev is not None
    changes = reader.deps.stores.events.list_membership_changes(reader.conn, reader.user_id, room.prev.until, until)
    return any(stored.event_id == room.member.event.event_id for stored in changes)


def _has_news(room: _Room) -> bool:
    timeline = room.timeline
    return timeline is not None and bool(timeline.events or timeline.limited)


def _read_timelines(reader: SyncReader, rooms: list[_Room], until: WriterPositions) -> None:
    """Every room's timeline, one batch per distinct ``timeline_limit`` (a list gives its rooms one)."""
    joined = {room.room_id for room in rooms if room.member.membership == "join"}
    by_limit: dict[int, list[_Room]] = {}
    for room in rooms:
        by_limit.setdefault(room.config.timeline_limit, []).append(room)
    for limit, group in by_limit.items():
        limited_reader = replace(reader, filter=SyncFilter.parse({"room": {"timeline": {"limit": limit}}}))
        timelines = read_timelines(
            limited_reader, {room.room_id: room.since for room in group}, until,
            at_most={room.room_id: room.member.event.stream_ordering for room in group if room.departed},
            joined=joined)
        for room in group:
            room.timeline = timelines[room.room_id]


def _states_at(reader: SyncReader, anchors: Mapping[str, str]) -> dict[str, StateMap]:
    """room id -> the state after its anchor event."""
    stores = reader.deps.stores
    groups = stores.state.get_event_state_groups(reader.conn, anchors.values())
    states = stores.state.get_state_ids_for_groups(reader.conn, set(groups.values()))
    return {room_id: states.get(groups[event_id], {}) for room_id, event_id in anchors.items() if event_id in groups}


def _end_anchors(reader: SyncReader, rooms: list[_Room], until: WriterPositions) -> dict[str, str]:
    """The event after which each room's ``required_state`` is read: its latest (the user's leave, for a room
    they left)."""
    latest = reader.deps.stores.events.list_latest_events_up_to(
        reader.conn, [room.room_id for room in rooms if not room.departed], until)
    return {**latest, **{room.room_id: room.member.event.event_id for room in rooms if room.departed}}


def _earlier_states(reader: SyncReader, rooms: list[_Room]) -> dict[str, StateMap]:
    """The state each previously sent room had where it was last sent (one read per distinct position)."""
    by_since: dict[WriterPositions, list[str]] = {}
    for room in rooms:
        if room.prev is not None and _has_news(room):
            by_since.setdefault(room.prev.until, []).append(room.room_id)
    anchors: dict[str, str] = {}
    for position, room_ids in by_since.items():
        anchors.update(reader.deps.stores.events.list_latest_events_up_to(reader.conn, room_ids, position))
    return _states_at(reader, anchors)


def _chosen_state(reader: SyncReader, room: _Room, end: StateMap,
                  before: StateMap | None) -> tuple[StateMap, set[str], bool]:
    """The state entries to send, the members ``$LAZY`` sent, and whether any membership changed since the room
    was last sent (its member counts and heroes are then sent again)."""
    required = room.config.required_state
    timeline = room.timeline.events if room.timeline is not None else []
    senders = {stored.event.sender for stored in timeline}
    membership_changed = False
    if room.prev is None:
        chosen = required.select(end, reader.user_id, senders)
    else:
        diff = {} if before is None else {key: event_id for key, event_id in end.items()
                                          if before.get(key) != event_id}
        membership_changed = any(key[0] == MEMBER for key in diff)
        chosen = required.select(diff, reader.user_id)
        chosen.update(required.added_since(room.prev.required_state).select(end, reader.user_id))
        if required.lazy_members:
            chosen.update({(MEMBER, sender): end[(MEMBER, sender)] for sender in senders - room.prev.lazy_members
                           if (MEMBER, sender) in end})
    lazy = {key[1] for key in chosen if key[0] == MEMBER and key[1] in senders} if required.lazy_members else set()
    return chosen, lazy, membership_changed


def _write_room_bodies(reader: SyncReader, rooms: list[_Room], bodies: dict[str, dict[str, Any]],
                       until: WriterPositions, summarised: set[str]) -> dict[str, frozenset[str]]:
    """Fill ``bodies`` for the joined and departed rooms to send; answers the ``$LAZY`` members sent per room, and
    fills ``summarised`` with the rooms whose member counts are due."""
    if not rooms:
        return {}
    stores = reader.deps.stores
    ends = _states_at(reader, _end_anchors(reader, rooms, until))
    befores = _earlier_states(reader, rooms)
    chosen: dict[str, StateMap] = {}
    lazy: dict[str, frozenset[str]] = {}
    for room in rooms:
        chosen[room.room_id], members, membership_changed = _chosen_state(
            reader, room, ends.get(room.room_id, {}), befores.get(room.room_id))
        lazy[room.room_id] = frozenset(members)
        if room.prev is None or membership_changed:
            summarised.add(room.room_id)
    # Heroes name a room without a name (as Synapse, which looks at m.room.name alone), sent with the member
    # counts when the client first sees the room and whenever its membership changed.
    unnamed = [room.room_id for room in rooms if NAME not in ends.get(room.room_id, {})
               and room.room_id in summarised]
    hero_ids = stores.state.list_heroes_in_rooms(reader.conn, unnamed, exclude=reader.user_id,
                                                 limit=MAX_HEROES) if unnamed else {}
    wanted = {event_id for state in chosen.values() for event_id in state.values()}
    for room in rooms:
        end = ends.get(room.room_id, {})
        wanted.update(end[key] for key in (NAME, AVATAR) if key in end)
        wanted.update(end[(MEMBER, hero)] for hero in hero_ids.get(room.room_id, []) if (MEMBER, hero) in end)
    found = stores.events.get_events(reader.conn, wanted)
    for room in rooms:
        end = ends.get(room.room_id, {})
        state_events = sorted((found[event_id] for event_id in chosen[room.room_id].values() if event_id in found),
                              key=lambda stored: stored.stream_ordering)
        timeline = room.timeline or Timeline([], False)
        body: dict[str, Any] = {
            "required_state": reader.serve(state_events),
            "timeline": reader.serve(timeline.events, with_txn_ids=True),
            "limited": timeline.limited,
            "prev_batch": prev_batch(timeline, _end_of(reader, room, timeline)),
            "num_live": _num_live(reader, room, until),
        }
        if room.expanded:
            body["expanded_timeline"] = body["unstable_expanded_timeline"] = True
        name_changed = room.prev is None or _sets(timeline, NAME)
        if NAME in end and end[NAME] in found and name_changed:
            name = found[end[NAME]].event.content.get("name")
            if isinstance(name, str) and name:
                body["name"] = name
        avatar_changed = room.prev is None or _sets(timeline, AVATAR)
        if AVATAR in end and end[AVATAR] in found and avatar_changed:
            url = found[end[AVATAR]].event.content.get("url")
            if isinstance(url, str) and url:
                body["avatar"] = url
        if room.room_id in hero_ids:
            body["heroes"] = [_hero(user_id, found.get(end.get((MEMBER, user_id), "")))
                              for user_id in hero_ids[room.room_id]]
        bodies[room.room_id] = body
    return lazy


def _sets(timeline: Timeline, key: tuple[str, str]) -> bool:
    """Whether the timeline changes the state entry ``key`` (so its value is sent again)."""
    return any(stored.event.is_state and stored.event.state_tuple == key for stored in timeline.events)


def _end_of(reader: SyncReader, room: _Room, timeline: Timeline) -> RoomPosition:
    """Where an empty timeline's ``prev_batch`` points: the room's end as the user sees it."""
    if timeline.events:
        return START
    if room.departed:
        return RoomPosition.after(room.member.event.event.depth, room.member.event.stream_ordering)
    return reader.deps.stores.events.get_room_end_position(reader.conn, room.room_id)


def _num_live(reader: SyncReader, room: _Room, until: WriterPositions) -> int:
    """How many of the timeline's events arrived after the room was last sent (none for a room new to it)."""
    timeline = room.timeline
    if room.prev is None or timeline is None or not timeline.events:
        return 0
    if not room.expanded:
        return len(timeline.events)
    newer = reader.deps.stores.events.list_latest_room_events(reader.conn, room.room_id, room.prev.until, until,
                                                             len(timeline.events))
    ids = {stored.event_id for stored in newer}
    return sum(1 for stored in timeline.events if stored.event_id in ids)


def _hero(user_id: str, member: StoredEvent | None) -> dict[str, Any]:
    hero: dict[str, Any] = {"user_id": user_id}
    content = member.event.content if member is not None else {}
    if isinstance(content.get("displayname"), str):
        hero["displayname"] = content["displayname"]
    if isinstance(content.get("avatar_url"), str):
        hero["avatar_url"] = content["avatar_url"]
    return hero


def _add_counts(reader: SyncReader, rooms: list[_Room], bodies: dict[str, dict[str, Any]],
                until: WriterPositions, summarised: set[str]) -> None:
    """Member counts where due (``summarised``), and unread notification counts where the user is joined."""
    if not rooms:
        return
    stores = reader.deps.stores
    counts = stores.state.count_memberships_in_rooms(reader.conn, summarised)
    joined = [room.room_id for room in rooms if room.member.membership == "join"]
    unread = stores.push_actions.count_unread(reader.conn, reader.user_id,
                                              read_positions(reader, joined, until), until) if joined else {}
    for room in rooms:
        body = bodies[room.room_id]
        if room.room_id in summarised:
            body["joined_count"] = counts.get(room.room_id, {}).get("join", 0)
            body["invited_count"] = counts.get(room.room_id, {}).get("invite", 0)
        if room.room_id in unread or room.member.membership == "join":
            found = unread.get(room.room_id)
            body["notification_count"] = found.notification_count if found else 0
            body["highlight_count"] = found.highlight_count if found else 0
