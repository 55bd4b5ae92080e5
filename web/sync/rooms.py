"""One room's part of a ``/sync`` response (Client-Server API, "Syncing"): timeline, state, summary, and the
stripped state of invites and knocks.

The timeline is the latest events in the token range (stream order), through the timeline filter and history
visibility, at most ``limit`` of them; ``limited`` says older ones were left out, and ``prev_batch`` is where
``/messages`` picks up. The state section is the state at the *start* of the timeline: all of it for a room the
client has not seen (initial sync, a new join, ``full_state``), else only what changed since the token and is not
already in the timeline. With lazy-loaded members only the timeline senders' memberships are sent (and the
user's own in a room new to the client), plus those that changed in a gap, less those the device already holds
(``web/sync/lazy_members.py``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from persistence.stores.events import StoredEvent
from protocol.events.model import StateKey
from protocol.sync_filters import SyncFilter, project_fields
from protocol.sync_tokens import WriterPositions
from protocol.tokens import RoomPosition
from web.client.room_access import ignored_users, visible_events_in_rooms
from web.client.serving import serve_events
from web.deps import Deps

DEFAULT_TIMELINE_LIMIT = 10
MAX_TIMELINE_LIMIT = 1000
FETCH_ROUNDS = 4
"""Store reads one timeline may take when the filter or visibility hides most events (bounded work per room)."""
MAX_HEROES = 5
STRIPPED_STATE_KEYS: tuple[StateKey, ...] = tuple((kind, "") for kind in (
    "m.room.create", "m.room.join_rules", "m.room.name", "m.room.avatar", "m.room.canonical_alias",
    "m.room.encryption", "m.room.topic"))
"""What an invitee or knocker sees of a room before joining (Synapse's default ``room_prejoin_state``)."""


@dataclass(frozen=True)
class SyncReader:
    """Who is syncing and how they filter: everything the room builders share within one response."""

    deps: Deps
    conn: Connection
    user_id: str
    device_id: str
    filter: SyncFilter
    now_ms: int
    use_state_after: bool = False
    """The client asked for ``state_after`` (state up to the *end* of the timeline) instead of ``state``."""
    known_members: dict[str, dict[str, str]] = field(default_factory=dict)
    """Filled while building: room id -> member -> the membership event the device holds already
    (``web/sync/lazy_members.py``), for the rooms of an incremental sync that may send members."""
    sent_members: dict[str, dict[str, str]] = field(default_factory=dict)
    """Filled while building: room id -> member -> the membership event this response sends them."""
    rebuilt_rooms: set[str] = field(default_factory=set)
    """Filled while building: rooms whose whole state the client rebuilds from this response."""
    _ignored: dict[str, frozenset[str]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ignored(self) -> frozenset[str]:
        """Whom the user ignores: read once per response, and only if something needs it (an empty sync
        does not). Memoised by hand: ``functools.cached_property`` holds one lock per class while it computes
        (Python 3.11), so every other sync of the process woken by the same ring waited on this one's query."""
        found = self._ignored.get("users")
        if found is None:
            found = self._ignored["users"] = ignored_users(self.deps, self.conn, self.user_id)
        return found

    def serve(self, events: Sequence[StoredEvent], *, with_txn_ids: bool = False) -> list[dict[str, Any]]:
        """Events as this client asked for them: redacted where due, then in the filter's format and fields;
        the sender's own device gets back the transaction id it sent with (spec: "Transaction identifiers")."""
        if self.filter.event_format == "federation":
            # The PDU as federation carries it, plus the event id clients key events by (which room versions 3+
            # derive rather than carry), as Synapse serves this format.
            served = [{**stored.event.pdu, "event_id": stored.event_id} for stored in events]
        else:
            served = serve_events(self.deps, self.conn, events, self.now_ms, self.user_id)
            if with_txn_ids:
                txn_ids = self.deps.stores.events.list_txn_ids(
                    self.conn, self.user_id, self.device_id,
                    [stored.event_id for stored in events if stored.event.sender == self.user_id])
                for body in served:
                    if body["event_id"] in txn_ids:
                        body["unsigned"]["transaction_id"] = txn_ids[body["event_id"]]
        if self.filter.event_fields is not None:
            served = [project_fields(body, self.filter.event_fields) for body in served]
        return served


@dataclass(frozen=True)
class Range:
    """One stream's part of the request: from the client's token (None: from the start) to now."""

    since: WriterPositions | None
    until: WriterPositions

    @property
    def unchanged(self) -> bool:
        """No writer of the stream committed anything in the range: whatever reads it would find nothing, so
        an incremental sync skips those reads (most streams, most of the time)."""
        return self.since is not None and self.since.covers(self.until)


@dataclass(frozen=True)
class Timeline:
    events: list[StoredEvent]
    """Oldest first."""
    limited: bool


def read_timeline(reader: SyncReader, room_id: str, since: WriterPositions | None, until: WriterPositions, *,
                  at_most: int | None = None) -> Timeline:
    """The latest events of the range the reader may see through the timeline filter, at most ``limit``."""
    cuts = {room_id: at_most} if at_most is not None else {}
    return read_timelines(reader, {room_id: since}, until, at_most=cuts)[room_id]


def read_timelines(reader: SyncReader, sinces: Mapping[str, WriterPositions | None], until: WriterPositions, *,
                   at_most: Mapping[str, int] | None = None,
                   joined: Collection[str] = ()) -> dict[str, Timeline]:
    """:func:`read_timeline` of many rooms (room id -> its ``since``): the first read of every room is one
    query per distinct ``since`` (a sync has at most two: its token, and None for rooms new to the client), and
    one visibility pass; only a room whose events the filter or visibility mostly hid reads on, alone.
    ``joined``: rooms the reader is joined to now (saves a membership lookup per room)."""
    event_filter = reader.filter.room.timeline
    limit = min(DEFAULT_TIMELINE_LIMIT if event_filter.limit is None else event_filter.limit, MAX_TIMELINE_LIMIT)
    size = limit + 1
    cuts = at_most or {}
    by_since: dict[WriterPositions | None, list[str]] = {}
    for room_id, since in sinces.items():
        by_since.setdefault(since, []).append(room_id)
    batches: dict[str, list[StoredEvent]] = {}
    for since, room_ids in by_since.items():
        batches.update(reader.deps.stores.events.list_latest_events_in_rooms(
            reader.conn, room_ids, since, until, size, at_most={r: cuts[r] for r in room_ids if r in cuts}))
    kept = _visible(reader, [stored for room_id in sinces for stored in batches.get(room_id, [])], joined)
    timelines = {}
    for room_id, since in sinces.items():
        batch = batches.get(room_id, [])
        room_kept = kept.get(room_id, [])
        if len(batch) < size or len(room_kept) > limit:
            timelines[room_id] = _timeline(room_kept, limit, exhausted=len(batch) < size)
        else:
            timelines[room_id] = _read_on(reader, room_id, since, until, room_kept, limit, size,
                                          batch[-1].stream_ordering - 1, joined)
    return timelines


def _visible(reader: SyncReader, batch: Sequence[StoredEvent],
             joined: Collection[str]) -> dict[str, list[StoredEvent]]:
    """The events of ``batch`` passing the timeline filter and history visibility, by room, in batch order."""
    event_filter = reader.filter.room.timeline
    matching = [stored for stored in batch
                if event_filter.matches(stored.event.type, stored.event.sender, stored.event.content)]
    if not matching:
        return {}
    # Keep the versions visibility hands back: an erased sender's event comes pruned to a later joiner.
    served = {stored.event_id: stored for stored in visible_events_in_rooms(
        reader.deps, reader.conn, reader.user_id, matching, ignored=reader.ignored, joined_rooms=joined)}
    shown = set(served)
    # A joined room's current state is shown even where history visibility hides the moment it was set (a
    # ``joined`` room's joins while the reader was away), as Synapse does: clients build the room from it.
    hidden_state = [(stored.room_id, stored.event.state_tuple, stored.event_id) for stored in matching
                    if stored.event.is_state and stored.event_id not in shown and stored.room_id in joined]
    if hidden_state:
        shown |= reader.deps.stores.state.list_current_among(reader.conn, hidden_state)
    by_room: dict[str, list[StoredEvent]] = {}
    for stored in matching:
        if stored.event_id in shown:
            by_room.setdefault(stored.room_id, []).append(served.get(stored.event_id, stored))
    return by_room


def _read_on(reader: SyncReader, room_id: str, since: WriterPositions | None, until: WriterPositions,
             kept: list[StoredEvent], limit: int, size: int, cursor: int, joined: Collection[str]) -> Timeline:
    """The further reads of one room whose first batch was mostly hidden, each twice as large, bounded."""
    for _ in range(FETCH_ROUNDS - 1):
        size = min(size * 2, MAX_TIMELINE_LIMIT)
        batch = reader.deps.stores.events.list_latest_room_events(reader.conn, room_id, since, until, size,
                                                                  at_most=cursor)
        kept.extend(_visible(reader, batch, joined).get(room_id, []))
        if len(batch) < size:
            return _timeline(kept, limit, exhausted=True)
        if len(kept) > limit:
            break
        cursor = batch[-1].stream_ordering - 1
    return _timeline(kept, limit, exhausted=False)


def _timeline(kept: list[StoredEvent], limit: int, *, exhausted: bool) -> Timeline:
    """``kept`` is latest first; a timeline is oldest first."""
    return Timeline(list(reversed(kept[:limit])), len(kept) > limit or not exhausted)


def _group_state(reader: SyncReader, group: int | None, keys: Iterable[StateKey] | None) -> dict[StateKey, str]:
    if group is None:
        return {}
    if keys is None:
        return reader.deps.stores.state.get_state(reader.conn, group)
    return reader.deps.stores.state.get_state_ids_for_groups(reader.conn, [group], keys).get(group, {})


def state_at(reader: SyncReader, room_id: str, until: WriterPositions,
             keys: Iterable[StateKey] | None = None) -> dict[StateKey, str]:
    """The room's state (only ``keys``, when given) after its last event at or before ``until`` (empty before
    the room existed)."""
    stores = reader.deps.stores
    event_id = stores.events.get_latest_event_up_to(reader.conn, room_id, until)
    return _group_state(reader, stores.state.get_event_state_group(reader.conn, event_id) if event_id else None,
                        keys)


def choose_state(reader: SyncReader, room_id: str, timeline: Timeline, start_state: Mapping[StateKey, str],
                 since_state: Mapping[StateKey, str] | None) -> list[str]:
    """The ids of the state events to send, before the state filter (which needs them read): all of
    ``start_state`` when ``since_state`` is None, else what differs from it."""
    if since_state is None:
        chosen = dict(start_state)
    elif timeline.limited:
        chosen = {key: event_id for key, event_id in start_state.items() if since_state.get(key) != event_id}
    else:
        chosen = {}
    state_filter = reader.filter.room.state
    if state_filter.lazy_load_members:
        senders = {stored.event.sender for stored in timeline.events}
        if since_state is None:  # a room new to the client: of its members, only the senders' and the user's own
            senders.add(reader.user_id)
            chosen = {key: event_id for key, event_id in chosen.items()
                      if key[0] != "m.room.member" or key[1] in senders}
        # (In a gap, the members whose membership changed in it stay: the client must learn of them.)
        in_timeline = {stored.event_id for stored in timeline.events}
        for sender in senders:
            event_id = start_state.get(("m.room.member", sender))
            if event_id is not None and event_id not in in_timeline:
                chosen[("m.room.member", sender)] = event_id
    if since_state is None:
        reader.rebuilt_rooms.add(room_id)
    elif state_filter.lazy_load_members and not state_filter.include_redundant_members:
        held = reader.known_members.get(room_id, {})
        chosen = {key: event_id for key, event_id in chosen.items()
                  if key[0] != "m.room.member" or held.get(key[1]) != event_id}
    return list(chosen.values())


def state_events(reader: SyncReader, room_id: str, timeline: Timeline,
                 found: Mapping[str, StoredEvent]) -> list[StoredEvent]:
    """The chosen state events (``found``, read for many rooms at once) through the state filter, in stream
    order, noting the memberships sent for lazy loading."""
    state_filter = reader.filter.room.state
    events = [stored for stored in found.values()
              if state_filter.matches(stored.event.type, stored.event.sender, stored.event.content)]
    if state_filter.lazy_load_members:
        # The state is as of the timeline's start, so the timeline's own membership events come after it.
        members = {stored.event.state_key: stored.event_id
                   for stored in [*sorted(events, key=lambda stored: stored.stream_ordering), *timeline.events]
                   if stored.event.type == "m.room.member" and stored.event.state_key is not None}
        if members:
            reader.sent_members.setdefault(room_id, {}).update(members)
    return sorted(events, key=lambda stored: stored.stream_ordering)


def state_after_section(reader: SyncReader, room_id: str, timeline: Timeline, until: WriterPositions,
                        since_state: Mapping[StateKey, str] | None) -> list[StoredEvent]:
    """``state_after`` (spec v1.16, ``use_state_after``): the state at the *end* of the timeline, all of it when
    ``since_state`` is None, else what differs from it; lazy-loaded members as for ``state``."""
    stores = reader.deps.stores
    if timeline.events:
        end_state = _group_state(reader, stores.state.get_event_state_group(reader.conn, timeline.events[-1].event_id),
                                 None)
    else:
        end_state = state_at(reader, room_id, until)
    chosen = dict(end_state) if since_state is None else {
        key: event_id for key, event_id in end_state.items() if since_state.get(key) != event_id}
    if reader.filter.room.state.lazy_load_members:
        senders = {stored.event.sender for stored in timeline.events} | {reader.user_id}
        chosen = {key: event_id for key, event_id in chosen.items()
                  if key[0] != "m.room.member" or key[1] in senders}
        for sender in senders:
            event_id = end_state.get(("m.room.member", sender))
            if event_id is not None:
                chosen[("m.room.member", sender)] = event_id
    state_filter = reader.filter.room.state
    found = stores.events.get_events(reader.conn, chosen.values())
    return sorted((stored for stored in found.values()
                   if state_filter.matches(stored.event.type, stored.event.sender, stored.event.content)),
                  key=lambda stored: stored.stream_ordering)


def prev_batch(timeline: Timeline, end: RoomPosition, *, whole_history: bool = False) -> str:
    """Where ``/messages`` continues backwards: just before the first timeline event (or at the room's end).

    ``whole_history``: the timeline was read from the room's start (a room new to the client) and holds all of
    it. Then, as Synapse does, the token stands after the last timeline event, so paging back from it serves
    the history again rather than nothing: clients and SyTest page back from any room's ``prev_batch`` and
    expect events and an ``end`` (spec: ``prev_batch`` "can be supplied to the ``from`` parameter").
    """
    if not timeline.events:
        return end.format()
    if whole_history and not timeline.limited:
        last = timeline.events[-1]
        return RoomPosition.after(last.event.depth, last.stream_ordering).format()
    first = timeline.events[0]
    return RoomPosition.before(first.event.depth, first.stream_ordering).format()


def summaries(reader: SyncReader, room_ids: Collection[str]) -> dict[str, dict[str, Any]]:
    """``summary`` (spec: "Calculating the display name for a room") of many rooms: member counts, and up to
    five heroes each for the rooms without a name or canonical alias (the spec requires them only there, and
    Synapse sends them nowhere else), in three queries whatever their number."""
    stores = reader.deps.stores
    counts = stores.state.count_memberships_in_rooms(reader.conn, room_ids)
    unnamed = set(room_ids) - stores.events.list_named_rooms(reader.conn, room_ids)
    heroes = stores.state.list_heroes_in_rooms(reader.conn, unnamed, exclude=reader.user_id,
                                               limit=MAX_HEROES) if unnamed else {}
    summaries_by_room: dict[str, dict[str, Any]] = {}
    for room_id in room_ids:
        summary: dict[str, Any] = {"m.heroes": heroes.get(room_id, [])} if room_id in unnamed else {}
        summary["m.joined_member_count"] = counts.get(room_id, {}).get("join", 0)
        summary["m.invited_member_count"] = counts.get(room_id, {}).get("invite", 0)
        summaries_by_room[room_id] = summary
    return summaries_by_room


def mentions_members(events: Iterable[StoredEvent]) -> bool:
    return any(stored.event.type == "m.room.member" for stored in events)


def stripped_state(reader: SyncReader, member_event: StoredEvent) -> list[dict[str, Any]]:
    """The room as an invitee or knocker may see it: a few state events, stripped to type, state key, sender and
    content, as of their own membership event — which comes last, in full."""
    stores = reader.deps.stores
    group = stores.state.get_event_state_group(reader.conn, member_event.event_id)
    sent = member_event.event.pdu.get("unsigned", {}).get(f"{member_event.event.membership}_room_state")
    if group is None and isinstance(sent, list):
        # An invite or knock over federation, in a room we hold no state of: the stripped state that came with it.
        return [*sent, *reader.serve([member_event])]
    event = member_event.event
    # An invite shows who sent it too (as Synapse's stripped state does).
    keys = [*STRIPPED_STATE_KEYS, *((("m.room.member", event.sender),)
                                    if event.membership == "invite" and event.sender != event.state_key else ())]
    state = stores.state.get_state_ids_for_groups(reader.conn, [group], keys).get(group, {}) \
        if group is not None else {}
    found = stores.events.get_events(reader.conn, state.values())
    stripped = [{"type": stored.event.type, "state_key": stored.event.state_key, "sender": stored.event.sender,
                 "content": dict(stored.event.content)}
                for stored in sorted(found.values(), key=lambda s: s.stream_ordering)]
    return [*stripped, *reader.serve([member_event])]
