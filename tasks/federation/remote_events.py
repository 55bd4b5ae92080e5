"""Persisting events other servers sent, in the room's events writer: checks 4-6 on receipt, then the DAG.

Layer: ``tasks`` (run by the room's events writer, under the room lock, in the caller's transaction). The web tier
has already made checks 1-3 (format, signatures, hashes: ``protocol/federation/pdus.py``); what needs the room's
events happens here (Server-Server API, "Checks performed on receipt of a PDU"):

4. the event must be allowed by its own ``auth_events``, else it is *rejected*;
5. it must be allowed by the state before it (the state after its ``prev_events``, resolved when they fork),
   else it is *rejected*;
6. it should be allowed by the room's current state, else it is *soft-failed*.

A rejected event is stored, flagged, so later events citing it can be judged ("Rejected events"), but it never
reaches clients, never changes state and is no forward extremity. A soft-failed event is stored as an outlier
with the state after it (a later event may build on it), but is neither shown nor an extremity ("Soft failure").
An accepted event gets a stream ordering, a state group, becomes a forward extremity in place of its prev events,
and moves the room's current state: to the state after it when it extends every extremity, else to the
resolution of the states after all extremities (``protocol/state_res``).

The entry point :func:`persist_remote_events` is what every inbound path uses: ``/send`` (``tasks/federation/
receive.py``) and joining a remote room (its state and auth chain as outliers, then the join with
``state_before``). History brought by ``/backfill`` goes through :func:`persist_backfilled_events` instead
(``tasks/federation/backfill.py``): the same checks but 6, under negative stream orderings, moving neither the
extremities nor the current state.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection

from persistence.stores.rooms import Room
from protocol.auth import CREATE_KEY, AuthError, auth_types_of, check_auth, check_auth_against_auth_events
from protocol.events.ids import create_event_id_from_room_id
from protocol.events.model import Event, StateKey
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomIdFormat
from protocol.state_res import resolve_state
from tasks.context import TaskContext
from tasks.events import STREAM, Appended, record_derived
from tasks.push_actions import record_push_actions

MAX_SUPERSEDED_WALK = 1000
"""At most this many events are visited looking through soft-failed and rejected prev events for the extremities
an accepted event replaces: a sender cannot make one event cost a walk of the whole room."""
SOFT_FAILED = "soft_failed"
"""The outcome of an event stored but kept from clients because the current state does not allow it."""


@dataclass(frozen=True)
class RemoteEvent:
    """A received event past checks 1-3 (``protocol.federation.pdus.check_pdu``), to be judged and stored.

    ``rejected_reason``: a rejection already decided on receipt (an old room version's byte-length breach).
    ``state_before``: the state before the event as another server told it (``send_join``), for an event whose
    prev events this server does not hold. The events named by it and by ``prev_states`` must be stored
    (outliers will do) or come in the same call.
    """

    event: Event
    rejected_reason: str | None = None
    state_before: Mapping[StateKey, str] | None = None
    prev_states: Mapping[str, Mapping[StateKey, str]] = field(default_factory=dict)
    """The state *before* each prev event this server holds no state for, as the origin told it (``/state_ids``
    at the prev event, which must come as an outlier): with the prev event applied unless it was rejected, it is
    resolved with the states after the prev events this server holds."""


@dataclass
class Persisted:
    """What became of each event: ``outcomes`` maps its id to None (accepted), ``soft_failed``, a rejection
    reason, or why it could not be stored (then it was not); ``appended`` lists the accepted timeline events for
    the doorbell and pushers."""

    outcomes: dict[str, str | None] = field(default_factory=dict)
    appended: list[Appended] = field(default_factory=list)
    not_stored: dict[str, str] = field(default_factory=dict)
    """Events that could not be judged (unknown prev or auth events), and why: nothing of them was stored."""


class NotStorable(Exception):
    """The event cannot be judged yet (its prev or auth events are unknown); nothing is stored."""


class _Events:
    """Stored events and those persisted earlier in this call, with their rejection: the state resolution
    :class:`~protocol.state_res.EventSource` and the rejected-event container at once."""

    def __init__(self, context: TaskContext, conn: Connection) -> None:
        self._context = context
        self._conn = conn
        self._events: dict[str, Event | None] = {}
        self._rejected: dict[str, bool] = {}

    def load(self, event_ids: Sequence[str]) -> None:
        missing = [event_id for event_id in event_ids if event_id not in self._events]
        if not missing:
            return
        stored = self._context.stores.events.get_events(self._conn, missing)
        for event_id in missing:
            found = stored.get(event_id)
            self._events[event_id] = found.event if found else None
            self._rejected[event_id] = found is not None and found.rejected_reason is not None

    def add(self, event: Event, rejected: bool) -> None:
        self._events[event.event_id] = event
        self._rejected[event.event_id] = rejected

    def get_event(self, event_id: str) -> Event | None:
        self.load([event_id])
        return self._events[event_id]

    def __contains__(self, event_id: object) -> bool:
        """Whether ``event_id`` was rejected (what ``resolve_state`` asks of ``rejected_event_ids``)."""
        if not isinstance(event_id, str):
            return False
        self.load([event_id])
        return self._rejected.get(event_id, False)


def _create_event(events: _Events, room: Room, event: Event) -> Event | None:
    """The room's create event: named by the room id in v12, cited in ``auth_events`` before."""
    if event.room_version.room_id_format is RoomIdFormat.CREATE_EVENT_HASH:
        return events.get_event(create_event_id_from_room_id(room.room_id, event.room_version))
    return None


def _check_against_auth_events(events: _Events, room: Room, event: Event) -> str | None:
    """Check 4: None, or why the event is rejected. Unknown auth events: NotStorable."""
    auth_ids = list(event.auth_event_ids)
    events.load(auth_ids)
    unknown = [event_id for event_id in auth_ids if events.get_event(event_id) is None]
    if unknown:
        raise NotStorable(f"unknown auth events: {', '.join(sorted(unknown)[:3])}")
    auth_events = [found for event_id in auth_ids if (found := events.get_event(event_id)) is not None]
    rejected = {event_id for event_id in auth_ids if event_id in events}
    create = _create_event(events, room, event)
    if create is not None and create.event_id in events:
        rejected.add(create.event_id)
    try:
        check_auth_against_auth_events(event, auth_events, create_event=create, rejected_event_ids=rejected,
                                       ignore_unexpected=True)
    except AuthError as exc:
        return exc.message
    return None


def _check_against_state(events: _Events, room: Room, event: Event, state: Mapping[StateKey, str]) -> str | None:
    """Checks 5 and 6: the auth rules against ``state`` (ids), reading only the keys the rules need."""
    wanted = auth_types_of(event) | {CREATE_KEY}
    ids = {key: state[key] for key in wanted if key in state}
    events.load(list(ids.values()))
    auth_state = {key: found for key, event_id in ids.items() if (found := events.get_event(event_id)) is not None}
    if CREATE_KEY not in auth_state and (create := _create_event(events, room, event)) is not None:
        auth_state[CREATE_KEY] = create
    try:
        check_auth(event, auth_state)
    except AuthError as exc:
        return exc.message
    return None


def resolve_states(events: _Events, room: Room, sets: Sequence[Mapping[StateKey, str]]) -> dict[StateKey, str]:
    """The resolution of ``sets`` (state resolution v1, v2 or v2.1, as the room's version says); one distinct set
    is itself."""
    distinct = list({tuple(sorted(state.items())): state for state in sets}.values())
    if len(distinct) == 1:
        return dict(distinct[0])
    room_version = KNOWN_ROOM_VERSIONS[room.room_version]
    return resolve_state(room_version, distinct, events, check_auth, rejected_event_ids=events)


def _state_before(context: TaskContext, conn: Connection, events: _Events, room: Room,
                  item: RemoteEvent) -> tuple[dict[StateKey, str], int | None]:
    """The state before the event, and the state group it equals when that is one prev event's (to store the
    state after as a delta on it). NotStorable when a prev event has no known state and none was given."""
    if item.state_before is not None:
        return dict(item.state_before), None
    prev_ids = list(dict.fromkeys(item.event.prev_event_ids))
    if not prev_ids:  # the create event, met when backfilling reaches the start of the room
        return {}, None
    # A prev event held in another room says nothing of this room's state: it is ignored, so another room's
    # state never becomes this one's (SyTest "Backfilled events whose prev_events are in a different room do not
    # allow cross-room back-pagination"); an event citing only such is not storable.
    elsewhere = {event_id for event_id, stored in context.stores.events.get_events(conn, prev_ids).items()
                 if stored.room_id != room.room_id}
    prev_ids = [event_id for event_id in prev_ids if event_id not in elsewhere]
    if not prev_ids:
        raise NotStorable(f"prev events in another room: {', '.join(sorted(elsewhere)[:3])}")
    groups = context.stores.state.get_event_state_groups(conn, prev_ids)
    unknown = [event_id for event_id in prev_ids if event_id not in groups and event_id not in item.prev_states]
    if unknown:
        raise NotStorable(f"unknown prev events: {', '.join(sorted(unknown)[:3])}")
    distinct_groups = sorted(set(groups.values()))
    told = [_state_after(events, event_id, item.prev_states[event_id]) for event_id in prev_ids
            if event_id not in groups]
    if len(distinct_groups) == 1 and not told:
        return context.stores.state.get_state(conn, distinct_groups[0]), distinct_groups[0]
    sets = [context.stores.state.get_state(conn, group) for group in distinct_groups] + told
    return resolve_states(events, room, sets), None


def _state_after(events: _Events, event_id: str, state_before: Mapping[StateKey, str]) -> dict[StateKey, str]:
    """The state after a prev event known only as an outlier: the state before it as the origin reported it,
    less any event this server rejected (no rejected event is part of a state: an origin cannot slip in a power
    levels event of its own making this way), plus the event itself when it is a state event that was not
    rejected (the state after a rejected event is the state before it)."""
    events.load(list(state_before.values()))
    state = {key: state_id for key, state_id in state_before.items() if state_id not in events}
    event = events.get_event(event_id)
    if event is None:
        raise NotStorable(f"unknown prev event: {event_id}")
    if event.is_state and event_id not in events:
        state[event.state_tuple] = event_id
    return state


def _dag_order(items: Sequence[RemoteEvent], *, links: str) -> Iterator[RemoteEvent]:
    """``items`` with every event after those of ``items`` it cites (``links``: prev_events or auth_events),
    shallowest first otherwise, so each event is judged after what it builds on."""
    by_id = {item.event.event_id: item for item in items}
    waiting = {event_id: {cited for cited in _cited(item.event, links) if cited in by_id and cited != event_id}
               for event_id, item in by_id.items()}
    done: set[str] = set()
    while waiting:
        ready = sorted((event_id for event_id, cited in waiting.items() if cited <= done),
                       key=lambda event_id: (by_id[event_id].event.depth, event_id))
        if not ready:  # a cycle, which valid hashes make impossible from v3: judge what is left by depth
            ready = sorted(waiting, key=lambda event_id: (by_id[event_id].event.depth, event_id))
        for event_id in ready:
            del waiting[event_id]
            done.add(event_id)
            yield by_id[event_id]


def _cited(event: Event, links: str) -> tuple[str, ...]:
    return event.prev_event_ids if links == "prev_events" else event.auth_event_ids


class _Writer:
    """One call's worth of persisting: the shared event cache, outcomes, and the room's extremities."""

    def __init__(self, context: TaskContext, conn: Connection, room: Room) -> None:
        self.context = context
        self.conn = conn
        self.room = room
        self.events = _Events(context, conn)
        self.result = Persisted()
        self.backfill_orderings: Iterator[int] = iter(())
        """Negative stream orderings for :meth:`backfilled`, in the order it is handed the events."""

    def _is_stored(self, event_id: str) -> bool:
        return event_id in self.context.stores.event_graph.list_stored(self.conn, [event_id])

    def _insert(self, event: Event, *, rejected_reason: str | None, outlier: bool,
                replaces_state: str | None = None) -> int:
        stores = self.context.stores
        stream_ordering = stores.stream_ids.allocate(self.conn, STREAM, writer=self.context.instance_name)[0]
        stores.events.insert_event(self.conn, event, self.room.room_id, stream_ordering, self.context.instance_name,
                                   rejected_reason=rejected_reason, replaces_state=replaces_state, outlier=outlier)
        stores.stream_ids.advance_position(self.conn, STREAM, self.context.instance_name, stream_ordering)
        self.events.add(event, rejected_reason is not None)
        return stream_ordering

    def outlier(self, item: RemoteEvent) -> None:
        """An event known only as part of another's state or auth chain: check 4 only, no state, no timeline."""
        event = item.event
        if self._is_stored(event.event_id):
            self.result.outcomes[event.event_id] = self._stored_outcome(event.event_id)
            return
        try:
            reason = item.rejected_reason or _check_against_auth_events(self.events, self.room, event)
        except NotStorable as exc:
            self.result.outcomes[event.event_id] = self.result.not_stored[event.event_id] = str(exc)
            return
        self._insert(event, rejected_reason=reason, outlier=True)
        self.result.outcomes[event.event_id] = reason

    def _stored_outcome(self, event_id: str) -> str | None:
        stored = self.context.stores.events.get_event(self.conn, event_id)
        return stored.rejected_reason if stored is not None else None

    def timeline(self, item: RemoteEvent) -> None:
        """An event of the room's timeline: checks 4-6, then stored as rejected, soft-failed or accepted."""
        event = item.event
        if self._is_stored(event.event_id):
            self.result.outcomes[event.event_id] = self._stored_outcome(event.event_id)
            return
        try:
            reason = item.rejected_reason or _check_against_auth_events(self.events, self.room, event)
            state_before, prev_group = _state_before(self.context, self.conn, self.events, self.room, item)
        except NotStorable as exc:
            self.result.outcomes[event.event_id] = self.result.not_stored[event.event_id] = str(exc)
            return
        if reason is None:
            reason = _check_against_state(self.events, self.room, event, state_before)
        state = self.context.stores.state
        if reason is not None:
            # The state after a rejected event is the state before it (rooms/v2 "Rejected events").
            self._insert(event, rejected_reason=reason, outlier=False)
            group = prev_group if prev_group is not None else state.insert_state_group(
                self.conn, self.room.room_id, event.event_id, None, state_before)
            state.insert_event_state_group(self.conn, event.event_id, group)
            self.result.outcomes[event.event_id] = reason
            return
        state_after = dict(state_before)
        if event.is_state:
            state_after[event.state_tuple] = event.event_id
        soft_failed = self._soft_fails(event, state_before) or self._redacts_elsewhere(event)
        replaces = state_before.get(event.state_tuple) if event.is_state else None
        stream_ordering = self._insert(event, rejected_reason=None, outlier=soft_failed, replaces_state=replaces)
        if prev_group is not None:
            delta = {event.state_tuple: event.event_id} if event.is_state else {}
            group = state.insert_state_group(self.conn, self.room.room_id, event.event_id, prev_group, delta) \
                if delta else prev_group
        else:
            group = state.insert_state_group(self.conn, self.room.room_id, event.event_id, None, state_after)
        state.insert_event_state_group(self.conn, event.event_id, group)
        if soft_failed:
            self.result.outcomes[event.event_id] = SOFT_FAILED
            return
        self._advance_extremities(event, state_after)
        record_derived(self.context, self.conn, self.room.room_id, event, stream_ordering)
        push_to = record_push_actions(self.context, self.conn, self.room.room_id, event, stream_ordering)
        self.result.appended.append(Appended(event, stream_ordering, push_to))
        self.result.outcomes[event.event_id] = None

    def backfilled(self, item: RemoteEvent) -> None:
        """An event of the room's history a backfill brought: checks 4 and 5 (not 6: the current state says
        nothing about what came before it), a state, and a place in the timeline under a negative stream ordering,
        so it sorts before the room's live events and no ``/sync`` range holds it. The forward extremities and the
        current state stay as they are. An outlier (from ``send_join``) that passes check 5 joins the timeline."""
        event = item.event
        stores = self.context.stores
        if stores.state.get_event_state_group(self.conn, event.event_id) is not None:
            self.result.outcomes[event.event_id] = self._stored_outcome(event.event_id)
            return
        outlier = stores.events.get_event(self.conn, event.event_id)
        if outlier is not None and outlier.rejected_reason is not None:
            self.result.outcomes[event.event_id] = outlier.rejected_reason
            return
        try:
            reason = None if outlier is not None else (
                item.rejected_reason or _check_against_auth_events(self.events, self.room, event))
            state_before, prev_group = _state_before(self.context, self.conn, self.events, self.room, item)
        except NotStorable as exc:
            self.result.outcomes[event.event_id] = self.result.not_stored[event.event_id] = str(exc)
            return
        if reason is None:
            reason = _check_against_state(self.events, self.room, event, state_before)
        if outlier is not None and reason is not None:  # it passed its auth events only: it stays an outlier
            self.result.outcomes[event.event_id] = reason
            return
        ordering = next(self.backfill_orderings)
        replaces = state_before.get(event.state_tuple) if event.is_state and reason is None else None
        if outlier is not None:
            stores.events.promote_outlier(self.conn, event.event_id, ordering, replaces_state=replaces)
        else:
            stores.events.insert_event(self.conn, event, self.room.room_id, ordering, self.context.instance_name,
                                       rejected_reason=reason, replaces_state=replaces)
            self.events.add(event, reason is not None)
        delta = {event.state_tuple: event.event_id} if event.is_state and reason is None else {}
        state = stores.state
        if prev_group is not None:
            group = state.insert_state_group(self.conn, self.room.room_id, event.event_id, prev_group, delta) \
                if delta else prev_group
        else:
            group = state.insert_state_group(self.conn, self.room.room_id, event.event_id, None,
                                             {**state_before, **delta})
        state.insert_event_state_group(self.conn, event.event_id, group)
        if reason is None:
            record_derived(self.context, self.conn, self.room.room_id, event, ordering)
        self.result.outcomes[event.event_id] = reason

    def _soft_fails(self, event: Event, state_before: Mapping[StateKey, str]) -> bool:
        """Check 6, against the room's current state (skipped when that is the state before the event)."""
        wanted = auth_types_of(event) | {CREATE_KEY}
        current = self.context.stores.state.get_current_state_ids_for(self.conn, self.room.room_id, wanted)
        if all(current.get(key) == state_before.get(key) for key in wanted):
            return False
        return _check_against_state(self.events, self.room, event, current) is not None

    def _redacts_elsewhere(self, event: Event) -> bool:
        """Whether ``event`` is a redaction of an event this server holds in another room. It can never apply
        (rooms/v3 "Handling redactions": a redaction is sent to clients only once it would be applied), so it is
        kept from clients and from the extremities as a soft-failed event is; Synapse likewise withholds it."""
        if event.type != "m.room.redaction" or event.redacts is None:
            return False
        target = self.context.stores.events.get_event(self.conn, event.redacts)
        return target is not None and target.room_id != self.room.room_id

    def _advance_extremities(self, event: Event, state_after: Mapping[StateKey, str]) -> None:
        """The event replaces the extremities it builds on; the current state follows the new extremities."""
        stores = self.context.stores
        room_id = self.room.room_id
        extremities = set(stores.events.list_forward_extremities(self.conn, room_id))
        replaced = extremities & self._superseded(event)
        stores.events.replace_forward_extremities(self.conn, room_id, sorted(replaced), event.event_id)
        remaining = extremities - replaced
        if remaining:
            groups = stores.state.get_event_state_groups(self.conn, sorted(remaining))
            sets = [dict(state_after), *(stores.state.get_state(self.conn, group) for group in set(groups.values()))]
            new_state = resolve_states(self.events, self.room, sets)
        else:
            new_state = dict(state_after)
        self._replace_current_state(new_state)

    def _superseded(self, event: Event) -> set[str]:
        """The events whose place as forward extremity ``event`` takes: its prev events and, through each that
        was soft-failed or rejected, that one's prev events in turn. A soft-failed or rejected event never became
        an extremity, so what it built on stayed one; an accepted event building on it has seen those too and must
        replace them, else the room keeps an extremity every later event of ours cites needlessly (SyTest
        "Inbound federation correctly handles soft failed events as extremities")."""
        superseded: set[str] = set()
        frontier = list(dict.fromkeys(event.prev_event_ids))
        while frontier and len(superseded) < MAX_SUPERSEDED_WALK:
            superseded.update(frontier)
            outliers = self.context.stores.event_graph.list_stored(self.conn, frontier)
            # A soft-failed event is an outlier with a state; one known only as another's state or prev event
            # (fetched to fill a gap) has none and is walked no further, as Synapse walks only the former.
            judged = self.context.stores.state.get_event_state_groups(self.conn, frontier)
            unaccepted = [event_id for event_id in frontier if event_id in outliers
                          and ((outliers[event_id] and event_id in judged) or event_id in self.events)]
            prevs = self.context.stores.event_graph.get_prev_event_ids(self.conn, unaccepted)
            frontier = [prev for event_id in unaccepted for prev in prevs.get(event_id, ()) if prev not in superseded]
        return superseded

    def _replace_current_state(self, new_state: Mapping[StateKey, str]) -> None:
        stores = self.context.stores
        room_id = self.room.room_id
        current = stores.state.get_current_state_ids(self.conn, room_id)
        changed = {key: event_id for key, event_id in new_state.items() if current.get(key) != event_id}
        self.events.load(list(changed.values()))
        for key, event_id in changed.items():
            found = self.events.get_event(event_id)
            stores.state.upsert_current_state(self.conn, room_id, key, event_id, found.membership if found else None)
        for key in current.keys() - new_state.keys():
            stores.state.delete_current_state(self.conn, room_id, key)


def persist_remote_events(context: TaskContext, conn: Connection, room: Room, *,
                          outliers: Sequence[RemoteEvent] = (), events: Sequence[RemoteEvent] = ()) -> Persisted:
    """Judge and store received events of ``room``; the caller holds the room lock and commits, then rings.

    ``outliers`` (a room's state and auth chain, as ``send_join`` or ``/state`` return them) are stored first, each
    after its own auth events, checked against those only; ``events`` then join the timeline, each after its prev
    events. Events already stored keep their first outcome, so a repeated call changes nothing.
    """
    writer = _Writer(context, conn, room)
    for item in _dag_order(outliers, links="auth_events"):
        writer.outlier(item)
    for item in _dag_order(events, links="prev_events"):
        writer.timeline(item)
    return writer.result


def persist_backfilled_events(context: TaskContext, conn: Connection, room: Room, *,
                              outliers: Sequence[RemoteEvent] = (), events: Sequence[RemoteEvent] = ()) -> Persisted:
    """Judge and store events of ``room``'s history that a backfill brought (``_Writer.backfilled``), each after
    its prev events; ``outliers`` (the state at the backfill's far end and its auth chain) are stored first. The
    caller holds the room lock and commits; nothing is rung, as no ``/sync`` shows history."""
    writer = _Writer(context, conn, room)
    for item in _dag_order(outliers, links="auth_events"):
        writer.outlier(item)
    writer.backfill_orderings = iter(context.stores.events.allocate_backfill_orderings(conn, len(events)))
    for item in _dag_order(events, links="prev_events"):
        writer.backfilled(item)
    return writer.result
