"""Building one ``/sync`` response: what changed for a user between their token and now.

``until`` is read first, as each writer's committed position, and every read is bounded by it, so nothing
committed later leaks into this response and nothing committed earlier can be skipped by the next one (DESIGN.md
guarantee 4). Membership is read from the current state *after* ``until``; where it ran ahead, the next
incremental sync sees the change inside its range and repairs the view (a new join is sent in full).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from persistence.stores.e2e_keys import DeviceKeyCounts
from persistence.stores.events import StoredEvent
from protocol.events.model import StateKey
from protocol.sync_filters import SyncFilter
from protocol.sync_tokens import SyncToken, WriterPositions
from protocol.tokens import START, RoomPosition
from tasks import api as tasks_api
from web.deps import Deps
from web.sync.device_lists import device_list_changes
from web.sync.ephemeral import RoomEphemeral
from web.sync.lazy_members import held_members, record_sent_members
from web.sync.notifications import unread_sections
from web.sync.presence import presence_events
from web.sync.rooms import (
    Range,
    SyncReader,
    Timeline,
    choose_state,
    mentions_members,
    prev_batch,
    read_timelines,
    state_after_section,
    state_at,
    state_events,
    stripped_state,
    summaries,
)
from web.sync.shared import Snapshot
from web.sync.shared_stores import shared_stores

EVENTS = "events"
ACCOUNT_DATA = "account_data"
TO_DEVICE = "to_device"
DEVICE_LISTS = "device_lists"
TYPING = "typing"
RECEIPTS = "receipts"
PRESENCE = "presence"
PUSH_RULES = "push_rules"
SYNC_STREAMS = (EVENTS, ACCOUNT_DATA, TO_DEVICE, DEVICE_LISTS, TYPING, RECEIPTS, PRESENCE, PUSH_RULES)
ROOM_STREAMS = (EVENTS, ACCOUNT_DATA, TYPING, RECEIPTS)
"""What can put something in ``rooms`` (or make presence and device lists look at the user's rooms)."""
PUSH_RULES_TYPE = "m.push_rules"
SIGNED_CURVE25519 = "signed_curve25519"
"""Always counted, as in /keys/upload's answer: a missing count must not read as "unknown"."""
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
    key_counts: DeviceKeyCounts
    """The device's one-time key counts and unused fallback key types, which every response carries."""

    def worth_returning_after(self, first: SyncResult) -> bool:
        """Whether a long-poll whose first look found ``first`` returns this: something new, or key counts that
        moved while it waited (a claim used a one-time or fallback key). The counts alone never make a sync
        non-empty, since they are in every response: compared with the first look, an unchanged count keeps
        the long-poll waiting instead of answering at once, again and again."""
        return not self.empty or self.key_counts != first.key_counts


def current_token(deps: Deps, conn: Any) -> SyncToken:
    positions = deps.stores.stream_ids.get_all_positions(conn, SYNC_STREAMS)
    return SyncToken.of({stream: WriterPositions.of_writers(writers) for stream, writers in positions.items()})


def listen_keys(deps: Deps, user_id: str) -> list[str]:
    """What a waiting sync is woken by: rings naming the user, or any room they are joined to."""
    with deps.database.read() as conn:
        rooms = deps.stores.state.list_rooms_with_membership(conn, user_id, "join")
    return [user_id, *rooms]


def _until(deps: Deps, conn: Any, request: SyncRequest, shared: Snapshot | None) -> SyncToken:
    """Every writer's committed position: read once per ring for the syncs it woke, or fresh when the client's
    token is ahead of that (it came from a process that heard a later ring first) or the sync was not woken."""
    if shared is None:
        return current_token(deps, conn)
    until = shared.once(("positions",), lambda: current_token(deps, conn))
    if request.since is not None and not until.covers(request.since):
        return current_token(deps, conn)
    return until


def build_sync(deps: Deps, request: SyncRequest, shared: Snapshot | None = None) -> SyncResult:
    """The response for ``request``. ``shared``: the sync was woken by a ring, and reads what does not depend on
    the reader through the snapshot the syncs that ring woke share (``web/sync/shared.py``)."""
    if shared is not None:
        deps = dataclasses.replace(deps, stores=shared_stores(deps.stores, shared))
    with deps.database.read() as conn:
        until = _until(deps, conn, request, shared)
        reader = SyncReader(deps, conn, request.user_id, request.device_id, request.filter, deps.clock.now_ms(),
                            request.use_state_after)
        ranges = {stream: Range(request.since.stream(stream) if request.since else None, until.stream(stream))
                  for stream in SYNC_STREAMS}
        global_data, room_data = _account_data(reader, ranges[ACCOUNT_DATA])
        global_data += push_rules_events(reader, ranges[PUSH_RULES])
        # The user's rooms matter only if something of theirs may have moved: when none of the streams that
        # reach rooms did (most long-poll wake-ups and empty syncs), every room section is empty anyway.
        rooms_moved = request.since is None or request.full_state or not all(
            ranges[stream].unchanged for stream in ROOM_STREAMS)
        memberships = deps.stores.state.list_user_memberships(conn, request.user_id) if rooms_moved else {}
        joined = sorted(room_id for room_id, (membership, _) in memberships.items() if membership == "join")
        ephemeral = RoomEphemeral(reader, joined, ranges[TYPING], ranges[RECEIPTS])
        rooms, fresh_joins = _rooms(reader, request, ranges[EVENTS], memberships, room_data, ephemeral)
        presence = presence_events(reader, ranges[PRESENCE], ranges[EVENTS], joined)
        to_device, to_device_until = to_device_batch(deps, conn, request.user_id, request.device_id,
                                                       ranges[TO_DEVICE])
        events, devices = ranges[EVENTS], ranges[DEVICE_LISTS]
        device_lists = device_list_changes(reader, events, devices, joined=set(joined), fresh_joins=fresh_joins,
                                           left_rooms=set(rooms["leave"]))
        # Exact for this device at this moment (spec: "Extensions to /sync"), read in the response's snapshot.
        key_counts = deps.stores.e2e_keys.get_key_counts(conn, request.user_id, request.device_id)
    next_batch = SyncToken.of({**dict(until.streams), TO_DEVICE: to_device_until})
    state_filter = request.filter.room.state
    if state_filter.lazy_load_members and not state_filter.include_redundant_members:
        record_sent_members(deps, request.user_id, request.device_id, until.stream(EVENTS), reader.sent_members,
                            reader.known_members, reader.rebuilt_rooms,
                            rebuilt_everything=request.since is None or request.full_state)
    body: dict[str, Any] = {
        "next_batch": next_batch.format(),
        "rooms": rooms,
        "account_data": {"events": global_data},
        "presence": {"events": presence},
        "to_device": {"events": to_device},
        "device_lists": device_lists,
        "device_one_time_keys_count": {SIGNED_CURVE25519: 0, **key_counts.one_time_keys},
        "device_unused_fallback_key_types": key_counts.unused_fallback_algorithms,
    }
    empty = (not any(rooms.values()) and not global_data and not presence and not to_device
             and not any(device_lists.values()))
    return SyncResult(body, empty=empty, key_counts=key_counts)


def acknowledge_to_device(deps: Deps, request: SyncRequest) -> None:
    """A sync from ``since`` proves the device received every to-device message up to it: let its writer
    delete them (spec: "Send-to-Device messaging", server behaviour). Checked first, so most syncs send
    nothing."""
    if request.since is None:
        return
    received = request.since.stream(TO_DEVICE)
    if received.highest <= 0:
        return  # a token from before any to-device message: nothing can be held up to it
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
    return global_filter.latest(global_events), by_room


def push_rules_events(reader: SyncReader, span: Range) -> list[dict[str, Any]]:
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
    jobs: list[_RoomJob] = []
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
            jobs.append(_RoomJob(room_id, None if fresh else since, full=fresh or request.full_state,
                                 ephemeral=ephemeral.events(room_id, fresh=fresh),
                                 newly_joined=fresh and since is not None))
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
            jobs.append(_RoomJob(room_id, None if full else since, full=full, at_most=member.stream_ordering))
    joined_now = {room_id for room_id, (membership, _) in memberships.items() if membership == "join"}
    built = _room_bodies(reader, jobs, until, joined_now)
    wants_summary = [job.room_id for job in jobs if job.at_most is None and (
        job.full or mentions_members(built[job.room_id][1]) or mentions_members(built[job.room_id][2]))]
    summaries_by_room = summaries(reader, wants_summary) if wants_summary else {}
    for job in jobs:
        body, timeline, state = built[job.room_id]
        if job.at_most is not None:
            sections["leave"][job.room_id] = body
            continue
        account_data = room_data.get(job.room_id, [])
        if not job.full and not timeline and not state and not account_data and not job.ephemeral:
            continue
        body["account_data"] = {"events": account_data}
        body["ephemeral"] = {"events": job.ephemeral}
        body["summary"] = summaries_by_room.get(job.room_id, {})
        sections["join"][job.room_id] = body
    for room_id, counts in unread_sections(reader, list(sections["join"]), until).items():
        sections["join"][room_id].update(counts)
    return sections, fresh_joins


def _joined_at(reader: SyncReader, room_id: str, since: WriterPositions) -> bool:
    """Whether the user was joined to the room at the ``since`` token (so the client already has the room)."""
    event_id = state_at(reader, room_id, since).get(("m.room.member", reader.user_id))
    stored = reader.deps.stores.events.get_event(reader.conn, event_id) if event_id else None
    return stored is not None and stored.event.membership == "join"


@dataclass(frozen=True)
class _RoomJob:
    """A joined or left room whose timeline and state this response sends."""

    room_id: str
    since: WriterPositions | None
    """None: the room's history from its start (new to the client)."""
    full: bool
    """Send its whole state (new to the client, a left room it had not seen, or ``full_state``)."""
    at_most: int | None = None
    """A left room: its history ends at the user's leave (this stream ordering)."""
    ephemeral: list[dict[str, Any]] = field(default_factory=list)
    newly_joined: bool = False
    """Joined since the token: its timeline is ``limited`` whatever it holds (as Synapse answers), since the
    room's history before it is the client's to page back through."""


def _room_bodies(reader: SyncReader, jobs: list[_RoomJob], until: WriterPositions, joined_now: set[str]
                 ) -> dict[str, tuple[dict[str, Any], list[StoredEvent], list[StoredEvent]]]:
    """room id -> (its timeline and state body, the timeline events, the state events) for every job, read for
    all rooms at once: a fixed number of queries however many rooms a sync holds (rooms with a gap since the
    token, or a timeline the filter mostly hides, read a little more each)."""
    if not jobs:
        return {}
    stores = reader.deps.stores
    timelines = read_timelines(reader, {job.room_id: job.since for job in jobs}, until,
                               at_most={job.room_id: job.at_most for job in jobs if job.at_most is not None},
                               joined=joined_now)
    latest = stores.events.list_latest_events_up_to(
        reader.conn, [job.room_id for job in jobs if not timelines[job.room_id].events], until)
    ends = {stored.room_id: RoomPosition.after(stored.event.depth, stored.stream_ordering)
            for stored in stores.events.get_events(reader.conn, latest.values()).values()}
    if reader.use_state_after:
        states = {job.room_id: state_after_section(
            reader, job.room_id, timelines[job.room_id], until,
            None if job.full or job.since is None else state_at(reader, job.room_id, job.since)) for job in jobs}
    else:
        states = _state_sections(reader, jobs, timelines, latest)
    served_timelines = reader.serve([stored for job in jobs for stored in timelines[job.room_id].events],
                                    with_txn_ids=True)
    served_states = reader.serve([stored for job in jobs for stored in states[job.room_id]])
    bodies = {}
    next_event, next_state = 0, 0  # where the job's part of the served lists starts
    for job in jobs:
        timeline, state = timelines[job.room_id], states[job.room_id]
        events = served_timelines[next_event:next_event + len(timeline.events)]
        state_body = served_states[next_state:next_state + len(state)]
        next_event, next_state = next_event + len(timeline.events), next_state + len(state)
        end = ends.get(job.room_id, START) if not timeline.events else START
        bodies[job.room_id] = ({
            "timeline": {"events": events, "limited": timeline.limited or job.newly_joined,
                         "prev_batch": prev_batch(timeline, end, whole_history=job.since is None)},
            "state_after" if reader.use_state_after else "state": {"events": state_body},
            "account_data": {"events": []},
        }, timeline.events, state)
    return bodies


def _state_sections(reader: SyncReader, jobs: list[_RoomJob], timelines: dict[str, Timeline],
                    latest: dict[str, str]) -> dict[str, list[StoredEvent]]:
    """room id -> its ``state`` section: the state at the start of its timeline (at ``until`` when the timeline
    is empty, ``latest`` holding each such room's last event), whole or as what changed since the token."""
    stores = reader.deps.stores
    anchors: dict[str, str] = {}
    keys: dict[str, set[StateKey] | None] = {}
    for job in jobs:
        timeline = timelines[job.room_id]
        if timeline.events:
            prevs = timeline.events[0].event.prev_event_ids
            if prevs:
                anchors[job.room_id] = prevs[0]
        elif job.room_id in latest:
            anchors[job.room_id] = latest[job.room_id]
        gap = timeline.limited and job.since is not None
        # A whole timeline since the token carries every state change itself: only lazy-loaded members may be
        # due, so only their entries are read, not the room's whole state.
        keys[job.room_id] = None if job.full or gap else {
            ("m.room.member", sender) for sender in {stored.event.sender for stored in timeline.events}
            | {reader.user_id}} if reader.filter.room.state.lazy_load_members else set()
    groups = stores.state.get_event_state_groups(reader.conn, anchors.values())
    group_of = {room_id: groups[event_id] for room_id, event_id in anchors.items() if event_id in groups}
    # A timeline that starts where this server joined a remote room: its first event's prev events live only on
    # the resident, so the state before it is the state after it with its own change undone.
    undone = {job.room_id: timelines[job.room_id].events[0] for job in jobs
              if job.room_id in anchors and job.room_id not in group_of and timelines[job.room_id].events}
    own_groups = stores.state.get_event_state_groups(reader.conn, [first.event_id for first in undone.values()])
    group_of.update({room_id: own_groups[first.event_id] for room_id, first in undone.items()
                     if first.event_id in own_groups})
    whole = stores.state.get_state_ids_for_groups(
        reader.conn, [group for room_id, group in group_of.items() if keys[room_id] is None])
    wanted = {key for room_keys in keys.values() if room_keys for key in room_keys}
    some = stores.state.get_state_ids_for_groups(
        reader.conn, [group for room_id, group in group_of.items() if keys[room_id]], wanted)
    state_filter = reader.filter.room.state
    if state_filter.lazy_load_members and not state_filter.include_redundant_members:
        # What the device holds matters only where this response may send members: rooms it already has, with
        # something in the timeline or a gap (one read for all of them; none for an empty sync).
        since = next((job.since for job in jobs if not job.full and job.since is not None), None)
        if since is not None:
            reader.known_members.update(held_members(
                reader.deps, reader.conn, reader.user_id, reader.device_id, since,
                [job.room_id for job in jobs if not job.full and job.since is not None
                 and (timelines[job.room_id].events or timelines[job.room_id].limited)]))
    chosen: dict[str, list[str]] = {}
    for job in jobs:
        room_keys, group = keys[job.room_id], group_of.get(job.room_id)
        if group is None:
            start_state: dict[StateKey, str] = {}
        elif room_keys is None:
            start_state = whole.get(group, {})
        else:
            start_state = {key: event_id for key, event_id in some.get(group, {}).items() if key in room_keys}
        first = undone.get(job.room_id)
        if first is not None and first.event.is_state and start_state.get(first.event.state_tuple) == first.event_id:
            if first.replaces_state is None:
                del start_state[first.event.state_tuple]
            else:
                start_state[first.event.state_tuple] = first.replaces_state
        timeline = timelines[job.room_id]
        gap = timeline.limited and job.since is not None
        since_state = (None if job.full else state_at(reader, job.room_id, job.since)
                       if gap and job.since is not None else {})
        chosen[job.room_id] = choose_state(reader, job.room_id, timeline, start_state, since_state)
    found = stores.events.get_events(reader.conn, [event_id for ids in chosen.values() for event_id in ids])
    return {job.room_id: state_events(reader, job.room_id, timelines[job.room_id],
                                      {event_id: found[event_id] for event_id in chosen[job.room_id]
                                       if event_id in found}) for job in jobs}
