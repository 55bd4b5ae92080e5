"""Building one ``/sync`` response: what changed for a user between their token and now.

``until`` is read first, as each writer's committed position, and every read is bounded by it, so nothing
committed later leaks into this response and nothing committed earlier can be skipped by the next one (DESIGN.md
guarantee 4). Membership is read from the current state *after* ``until``; where it ran ahead, the next
incremental sync sees the change inside its range and repairs the view (a new join is sent in full).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from persistence.stores.events import StoredEvent
from protocol.sync_filters import SyncFilter
from protocol.sync_tokens import SyncToken, WriterPositions
from protocol.tokens import START, RoomPosition
from tasks import api as tasks_api
from web.client.room_access import ignored_users
from web.deps import Deps
from web.sync.device_lists import device_list_changes
from web.sync.ephemeral import RoomEphemeral
from web.sync.notifications import unread_sections
from web.sync.presence import presence_events
from web.sync.rooms import (
    Range,
    SyncReader,
    mentions_members,
    prev_batch,
    read_timeline,
    state_after_section,
    state_at,
    state_before,
    state_section,
    stripped_state,
    summary,
)

EVENTS = "events"
ACCOUNT_DATA = "account_data"
TO_DEVICE = "to_device"
DEVICE_LISTS = "device_lists"
TYPING = "typing"
RECEIPTS = "receipts"
PRESENCE = "presence"
PUSH_RULES = "push_rules"
SYNC_STREAMS = (EVENTS, ACCOUNT_DATA, TO_DEVICE, DEVICE_LISTS, TYPING, RECEIPTS, PRESENCE, PUSH_RULES)
PUSH_RULES_TYPE = "m.push_rules"
MAX_TO_DEVICE = 100
"""To-device messages per response, as Synapse sends; the token then stops after the last one sent."""


@dataclass(frozen=True)
class SyncRequest:
    user_id: str
    device_id: str
    since: SyncToken | None
    filter: SyncFilter
    full_state: bool
    use_state_after: bool = False


@dataclass(frozen=True)
class SyncResult:
    body: dict[str, Any]
    empty: bool
    """Nothing for the client in it: a long-poll keeps waiting."""


def current_token(deps: Deps, conn: Any) -> SyncToken:
    positions = deps.stores.stream_ids.get_all_positions(conn, SYNC_STREAMS)
    return SyncToken.of({stream: WriterPositions.of_writers(writers) for stream, writers in positions.items()})


def listen_keys(deps: Deps, user_id: str) -> list[str]:
    """What a waiting sync is woken by: rings naming the user, or any room they are joined to."""
    with deps.database.read() as conn:
        rooms = deps.stores.state.list_rooms_with_membership(conn, user_id, "join")
    return [user_id, *rooms]


def build_sync(deps: Deps, request: SyncRequest) -> SyncResult:
    with deps.database.read() as conn:
        until = current_token(deps, conn)
        since_text = request.since.format() if request.since is not None else None
        known = deps.sent_members.known(request.user_id, request.device_id, since_text)
        reader = SyncReader(deps, conn, request.user_id, request.device_id, request.filter, deps.clock.now_ms(),
                            request.use_state_after, known, ignored=ignored_users(deps, conn, request.user_id))
        ranges = {stream: Range(request.since.stream(stream) if request.since else None, until.stream(stream))
                  for stream in SYNC_STREAMS}
        global_data, room_data = _account_data(reader, ranges[ACCOUNT_DATA])
        global_data += _push_rules(reader, ranges[PUSH_RULES])
        memberships = deps.stores.state.list_user_memberships(conn, request.user_id)
        joined = sorted(room_id for room_id, (membership, _) in memberships.items() if membership == "join")
        ephemeral = RoomEphemeral(reader, joined, ranges[TYPING], ranges[RECEIPTS])
        rooms, fresh_joins = _rooms(reader, request, ranges[EVENTS], memberships, room_data, ephemeral)
        presence = presence_events(reader, ranges[PRESENCE], ranges[EVENTS], joined)
        to_device, to_device_until = to_device_batch(deps, conn, request.user_id, request.device_id,
                                                       ranges[TO_DEVICE])
        events, devices = ranges[EVENTS], ranges[DEVICE_LISTS]
        device_lists = device_list_changes(reader, events, devices, joined=set(joined), fresh_joins=fresh_joins,
                                           left_rooms=set(rooms["leave"]))
    next_batch = SyncToken.of({**dict(until.streams), TO_DEVICE: to_device_until})
    if request.filter.room.state.lazy_load_members:
        deps.sent_members.remember(request.user_id, request.device_id, next_batch.format(), known,
                                   reader.sent_members, reader.rebuilt_rooms)
    body: dict[str, Any] = {
        "next_batch": next_batch.format(),
        "rooms": rooms,
        "account_data": {"events": global_data},
        "presence": {"events": presence},
        "to_device": {"events": to_device},
        "device_lists": device_lists,
        "device_one_time_keys_count": {},
    }
    empty = (not any(rooms.values()) and not global_data and not presence and not to_device
             and not any(device_lists.values()))
    return SyncResult(body, empty=empty)


def acknowledge_to_device(deps: Deps, request: SyncRequest) -> None:
    """A sync from ``since`` proves the device received every to-device message up to it: let its writer
    delete them (spec: "Send-to-Device messaging", server behaviour). Checked first, so most syncs send
    nothing."""
    if request.since is None:
        return
    received = request.since.stream(TO_DEVICE)
    with deps.database.read() as conn:
        held = deps.stores.device_inbox.has_inbox_up_to(conn, request.user_id, request.device_id, received)
    if held:
        tasks_api.acknowledge_to_device(deps.dispatcher, user_id=request.user_id, device_id=request.device_id,
                                        floor=received.floor, ahead=received.writers())


def to_device_batch(deps: Deps, conn: Any, user_id: str, device_id: str,
                    span: Range) -> tuple[list[dict[str, Any]], WriterPositions]:
    """The device's messages in the range, and how far the token may move: to ``until``, or, when more
    messages wait than one response carries, only past the last one sent. Also how a dehydrated device's
    messages are fetched in batches (``web/client/dehydrated_devices.py``)."""
    if span.unchanged:
        return [], span.until
    items = deps.stores.device_inbox.list_inbox(conn, user_id, device_id, span.since, span.until, MAX_TO_DEVICE + 1)
    events = [{"sender": item.sender, "type": item.type, "content": item.content}
              for item in items[:MAX_TO_DEVICE]]
    if len(items) <= MAX_TO_DEVICE:
        return events, span.until
    cutoff = items[MAX_TO_DEVICE - 1].stream_id
    since = span.since or WriterPositions()
    writers = {*span.until.writers(), *since.writers()}
    positions = {writer: max(since.position_of(writer), min(span.until.position_of(writer), cutoff))
                 for writer in writers}
    floor = max(since.floor, min(span.until.floor, cutoff))
    return events, WriterPositions(floor, tuple(sorted((w, p) for w, p in positions.items() if p > floor)))


def _account_data(reader: SyncReader, span: Range) -> tuple[list[dict[str, Any]],
                                                            dict[str, list[dict[str, Any]]]]:
    """Global account data events, and room account data events by room, changed in the range."""
    if span.unchanged:
        return [], {}
    entries = reader.deps.stores.account_data.list_account_data(reader.conn, reader.user_id, span.since,
                                                                span.until)
    global_filter, room_filter = reader.filter.account_data, reader.filter.room.account_data
    global_events = [{"type": entry.type, "content": entry.content} for entry in entries
                     if not entry.room_id and global_filter.matches(entry.type, reader.user_id, entry.content)]
    by_room: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        if entry.room_id and room_filter.matches(entry.type, reader.user_id, entry.content, entry.room_id):
            by_room.setdefault(entry.room_id, []).append({"type": entry.type, "content": entry.content})
    if global_filter.limit is not None:
        global_events = global_events[-global_filter.limit:]
    return global_events, by_room


def _push_rules(reader: SyncReader, span: Range) -> list[dict[str, Any]]:
    """``m.push_rules`` with the user's whole ruleset (spec: "Push Rules: Events"), in the global account data of
    an initial sync and of any sync whose range holds a change to the user's rules, as Synapse sends it."""
    if span.since is not None and (span.since.covers(span.until) or not reader.deps.stores.push_rules.has_changed(
            reader.conn, reader.user_id, span.since, span.until)):
        return []
    if not reader.filter.account_data.matches(PUSH_RULES_TYPE, reader.user_id, {}):
        return []
    ruleset = reader.deps.push_rules.ruleset(reader.conn, reader.user_id)
    return [{"type": PUSH_RULES_TYPE, "content": {"global": ruleset.to_client()}}]


def _rooms(reader: SyncReader, request: SyncRequest, span: Range, memberships: dict[str, tuple[str, str]],
           room_data: dict[str, list[dict[str, Any]]],
           ephemeral: RoomEphemeral) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """The rooms sections, and which joined rooms are new to the client (sent in full); ``memberships`` is the
    user's current membership per room."""
    stores = reader.deps.stores
    since, until = span.since, span.until
    sections: dict[str, dict[str, Any]] = {"join": {}, "invite": {}, "leave": {}, "knock": {}}
    fresh_joins: set[str] = set()
    room_filter = reader.filter.room
    forgotten: set[str] | None = None  # read only if a left room is a candidate
    if since is None:
        changes: dict[str, StoredEvent] = {}
        candidates = set(memberships)
    else:
        touched = set(room_data) | ephemeral.rooms()
        changes = {}
        if not span.unchanged:
            changes = {stored.room_id: stored for stored in
                       stores.events.list_membership_changes(reader.conn, reader.user_id, since, until)}
            touched |= stores.events.list_rooms_with_events(reader.conn, since, until)
        joined = {room_id for room_id, (membership, _) in memberships.items() if membership == "join"}
        candidates = set(changes) | (joined if request.full_state else joined & touched)
    member_events = stores.events.get_events(
        reader.conn, [memberships[room_id][1] for room_id in candidates - set(changes) if room_id in memberships])
    for room_id in sorted(candidates):
        if not room_filter.wants_room(room_id):
            continue
        member = changes.get(room_id) or member_events.get(memberships.get(room_id, ("", ""))[1])
        if member is None:
            continue
        membership = member.event.membership
        if membership == "join":
            fresh = since is None or (room_id in changes and not _joined_at(reader, room_id, since))
            if fresh:
                fresh_joins.add(room_id)
            section = _joined(reader, room_id, None if fresh else since, until,
                              full=fresh or request.full_state, account_data=room_data.get(room_id, []),
                              ephemeral=ephemeral.events(room_id, fresh=fresh))
            if section is not None:
                sections["join"][room_id] = section
        elif membership == "invite":
            if reader.ignored and member.event.sender in reader.ignored:
                continue  # spec: "Ignoring Users" — invites from ignored users are not shown
            sections["invite"][room_id] = {"invite_state": {"events": stripped_state(reader, member)}}
        elif membership == "knock":
            sections["knock"][room_id] = {"knock_state": {"events": stripped_state(reader, member)}}
        elif membership in ("leave", "ban") and (since is not None or room_filter.include_leave):
            if forgotten is None:
                forgotten = set(stores.forgotten_rooms.list_forgotten_rooms(reader.conn, reader.user_id))
            if room_id in forgotten:
                continue
            full = since is None or not _joined_at(reader, room_id, since)
            sections["leave"][room_id] = _left(reader, room_id, None if full else since, until, member, full=full)
    for room_id, counts in unread_sections(reader, list(sections["join"]), until).items():
        sections["join"][room_id].update(counts)
    return sections, fresh_joins


def _joined_at(reader: SyncReader, room_id: str, since: WriterPositions) -> bool:
    """Whether the user was joined to the room at the ``since`` token (so the client already has the room)."""
    event_id = state_at(reader, room_id, since).get(("m.room.member", reader.user_id))
    stored = reader.deps.stores.events.get_event(reader.conn, event_id) if event_id else None
    return stored is not None and stored.event.membership == "join"


def _end_of(reader: SyncReader, room_id: str, until: WriterPositions) -> RoomPosition:
    event_id = reader.deps.stores.events.get_latest_event_up_to(reader.conn, room_id, until)
    stored = reader.deps.stores.events.get_event(reader.conn, event_id) if event_id else None
    return RoomPosition.after(stored.event.depth, stored.stream_ordering) if stored else START


def _timeline_and_state(reader: SyncReader, room_id: str, since: WriterPositions | None, until: WriterPositions,
                        *, full: bool, at_most: int | None = None) -> tuple[dict[str, Any], list[StoredEvent],
                                                                              list[StoredEvent]]:
    timeline = read_timeline(reader, room_id, since, until, at_most=at_most)
    if reader.use_state_after:
        since_state = None if full or since is None else state_at(reader, room_id, since)
        after = state_after_section(reader, room_id, timeline, until, since_state)
        end = _end_of(reader, room_id, until) if not timeline.events else START
        return {
            "timeline": {"events": reader.serve(timeline.events, with_txn_ids=True), "limited": timeline.limited,
                         "prev_batch": prev_batch(timeline, end)},
            "state_after": {"events": reader.serve(after)},
            "account_data": {"events": []},
        }, timeline.events, after
    gap = timeline.limited and since is not None
    # A whole timeline since the token carries every state change itself: only lazy-loaded members may be due,
    # so only their entries are read, not the room's whole state.
    keys = None if full or gap else [("m.room.member", sender) for sender in
                                     {stored.event.sender for stored in timeline.events} | {reader.user_id}]
    if keys is not None and not reader.filter.room.state.lazy_load_members:
        keys = []
    start_state = (state_before(reader, timeline.events[0], keys) if timeline.events
                   else state_at(reader, room_id, until, keys))
    since_state = None if full else state_at(reader, room_id, since) if gap and since is not None else {}
    state = state_section(reader, room_id, timeline, start_state, since_state)
    end = _end_of(reader, room_id, until) if not timeline.events else START
    body = {
        "timeline": {"events": reader.serve(timeline.events, with_txn_ids=True), "limited": timeline.limited,
                     "prev_batch": prev_batch(timeline, end)},
        "state": {"events": reader.serve(state)},
        "account_data": {"events": []},
    }
    return body, timeline.events, state


def _joined(reader: SyncReader, room_id: str, since: WriterPositions | None, until: WriterPositions, *,
            full: bool, account_data: list[dict[str, Any]],
            ephemeral: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A joined room's section; None when an incremental sync has nothing for it."""
    body, timeline, state = _timeline_and_state(reader, room_id, since, until, full=full)
    if not full and not timeline and not state and not account_data and not ephemeral:
        return None
    body["account_data"] = {"events": account_data}
    body["ephemeral"] = {"events": ephemeral}
    if full or mentions_members(timeline) or mentions_members(state):
        body["summary"] = summary(reader, room_id)
    else:
        body["summary"] = {}
    return body


def _left(reader: SyncReader, room_id: str, since: WriterPositions | None, until: WriterPositions,
          member: StoredEvent, *, full: bool) -> dict[str, Any]:
    """A room the user left (or was kicked or banned from): history up to their leave, no further."""
    body, _, _ = _timeline_and_state(reader, room_id, since, until, full=full, at_most=member.stream_ordering)
    return body
