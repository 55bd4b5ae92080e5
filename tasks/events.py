"""The events stream writer: creates, authorises, signs and persists a room's events, one at a time per room.

Sharded by room id (``stream_writers.events``). Everything for one event happens under the room's lock, in the
transaction of its batch (``tasks/group_commit.py``: client events handed over together commit as one): the
client's transaction id is checked again (a retried send returns the first event), the event is built on the
room's forward extremities with auth events chosen from the current state, checked by the room version's
authorization rules, hashed and signed, and stored together with its DAG edges, its state group, the new current
state, the push actions of its recipients (``tasks/push_actions.py``) and the writer's stream position. The
doorbell rings after the commit.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from persistence.doorbell import Ring
from persistence.locks import lock_room
from persistence.stores.relations import Relation
from persistence.stores.rooms import Room
from protocol.auth import CREATE_KEY, auth_types_for_event, check_auth, power_levels_from_state
from protocol.canonical_json import check_canonical_json
from protocol.errors import MatrixError, NotFound
from protocol.events.builder import EventTemplate, build_event
from protocol.events.model import Event, StateKey
from protocol.redaction import check_local_redaction
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomIdFormat
from protocol.search import searchable_text
from protocol.self_destruct import expiry_ts
from tasks.api import CREATE_EVENT, CREATE_ROOM, STOP_TYPING
from tasks.appservices import poke_appservices
from tasks.client_event_checks import check_client_event
from tasks.context import TaskContext
from tasks.federation.fan_out import poke_federation
from tasks.ledger import answer
from tasks.push_actions import record_push_actions
from tasks.pushers import poke_pushers
from tasks.registry import TaskSpec

STREAM = "events"


@dataclass(frozen=True)
class Appended:
    event: Event
    stream_ordering: int
    push_to: tuple[str, ...] = ()
    """Recipients with an http pusher, poked once the event commits (``tasks/pushers.py``)."""


def append_event(context: TaskContext, conn: Connection, room: Room, template: EventTemplate,
                 sender: str) -> Appended:
    """Build, authorise and store one event at the end of ``room``; the caller holds the room lock.

    Local events extend every forward extremity, so a room only this server writes to stays linear, and the
    state before the event is the room's current state (kept resolved by this same writer).
    """
    stores = context.stores
    room_version = KNOWN_ROOM_VERSIONS[room.room_version]
    extremities = stores.events.list_forward_extremities(conn, room.room_id)
    wanted = auth_types_for_event(template.type, sender, template.state_key, template.content, room_version)
    current = stores.state.get_current_state_ids_for(conn, room.room_id, wanted | {CREATE_KEY})
    auth_ids = {key: current[key] for key in wanted if key in current}
    # One read for the prev events, the auth events and the create event the rules read: three round trips were
    # an eighth of a send's statements (bench/README.md, "Group commit").
    create = [current[CREATE_KEY]] if CREATE_KEY in current else []
    loaded = stores.events.get_events(conn, [*extremities, *auth_ids.values(), *create])
    prev_events = [loaded[event_id].event for event_id in extremities if event_id in loaded]
    auth_state: dict[StateKey, Event] = {key: loaded[event_id].event for key, event_id in auth_ids.items()}
    event = build_event(
        room_version, template, room_id=room.room_id, sender=sender,
        prev_events=sorted(prev_events, key=lambda e: e.event_id),
        auth_events=sorted(auth_state.values(), key=lambda e: e.event_id),
        origin_server_ts=context.clock.now_ms(), server_name=context.config.server_name,
        signing_key=context.signing_key, opaque_id=secrets.token_urlsafe(18).replace("-", "").replace("_", ""),
    )
    if room_version.strict_canonical_json:  # rooms/v6 "Canonical JSON": 400 M_BAD_JSON, nothing stored
        check_canonical_json(event.pdu)
    # v12 events do not cite the create event (the room id names it), but the rules still read it.
    check_state = dict(auth_state)
    if CREATE_KEY not in check_state and CREATE_KEY in current:
        check_state[CREATE_KEY] = loaded[current[CREATE_KEY]].event
    check_auth(event, check_state)
    if event.redacts is not None:
        target = stores.events.get_event(conn, event.redacts)
        check_local_redaction(event, target.event if target and target.room_id == room.room_id else None,
                              power_levels_from_state(check_state))
    return _store(context, conn, room.room_id, event, extremities)


def _store(context: TaskContext, conn: Connection, room_id: str, event: Event, extremities: list[str]) -> Appended:
    stores = context.stores
    stream_ordering = stores.stream_ids.allocate(conn, STREAM, writer=context.instance_name)[0]
    replaced = stores.state.get_current_state_event_id(conn, room_id, event.state_tuple) if event.is_state else None
    stores.events.insert_event(conn, event, room_id, stream_ordering, context.instance_name,
                               replaces_state=replaced)
    prev_group = stores.state.get_event_state_group(conn, extremities[0]) if len(extremities) == 1 else None
    if event.is_state:
        delta: Mapping[StateKey, str] = {event.state_tuple: event.event_id}
        if prev_group is None and extremities:
            delta = {**stores.state.get_current_state_ids(conn, room_id), **delta}
        group = stores.state.insert_state_group(conn, room_id, event.event_id, prev_group, delta)
        stores.state.upsert_current_state(conn, room_id, event.state_tuple, event.event_id, event.membership)
    elif prev_group is not None:
        group = prev_group
    else:
        group = stores.state.insert_state_group(conn, room_id, event.event_id, None,
                                                stores.state.get_current_state_ids(conn, room_id))
    stores.state.insert_event_state_group(conn, event.event_id, group)
    stores.events.replace_forward_extremities(conn, room_id, extremities, event.event_id)
    record_derived(context, conn, room_id, event, stream_ordering)
    push_to = record_push_actions(context, conn, room_id, event, stream_ordering)
    stores.stream_ids.advance_position(conn, STREAM, context.instance_name, stream_ordering)
    return Appended(event, stream_ordering, push_to)


def record_derived(context: TaskContext, conn: Connection, room_id: str, event: Event,
                    stream_ordering: int) -> None:
    """Index what read paths look events up by: the redaction's target, the relation's parent, the searchable
    text (spec: "Server Side Search")."""
    searchable = searchable_text(event.type, event.content) if event.state_key in (None, "") else None
    if searchable is not None:
        context.stores.search.insert_entry(
            conn, stream_ordering=stream_ordering, event_id=event.event_id, room_id=room_id, sender=event.sender,
            key=searchable[0], value=searchable[1], origin_server_ts=event.origin_server_ts)
    if event.redacts is not None:
        context.stores.relations.insert_redaction(conn, event.event_id, event.redacts, room_id)
    relation = relation_of(event)
    if relation is not None:
        context.stores.relations.insert_relation(conn, room_id, relation)
    expiry = expiry_ts(event) if context.config.enable_ephemeral_messages else None
    if expiry is not None:  # MSC2228: pruned when due (tasks/event_expiry.py)
        context.stores.event_expiry.insert_expiry(conn, event.event_id, room_id, expiry)


def relation_of(event: Event) -> Relation | None:
    """``content.m.relates_to`` with a ``rel_type`` and an ``event_id`` (spec: "Forming relationships")."""
    relates_to = event.content.get("m.relates_to")
    if not isinstance(relates_to, Mapping):
        return None
    rel_type, parent = relates_to.get("rel_type"), relates_to.get("event_id")
    if not isinstance(rel_type, str) or not isinstance(parent, str):
        return None
    key = relates_to.get("key") if rel_type == "m.annotation" else None
    return Relation(event.event_id, parent, rel_type, key if isinstance(key, str) else None)


def ring_keys(room_id: str, appended: list[Event]) -> tuple[str, ...]:
    """Who a ring concerns: the senders, the room's members (by room id) and anyone whose membership changed, who
    may not be a member (an invitee's ``/sync`` must wake for the invite). The senders come first because a web
    process wakes long-polls in the order of the ring's keys (``web/sync/notifier.py``): a sender's own ``/sync``
    is never woken after the other members' (a client shows its message as pending until then)."""
    senders = [event.sender for event in appended]
    targets = [event.state_key for event in appended if event.type == "m.room.member" and event.state_key]
    return tuple(dict.fromkeys([*senders, room_id, *(target for target in targets if target is not None)]))


def create_event(
    context: TaskContext,
    *,
    room_id: str,
    sender: str,
    event_type: str,
    content: dict[str, Any],
    state_key: str | None = None,
    redacts: str | None = None,
    device_id: str | None = None,
    txn_id: str | None = None,
    target_memberships: list[str] | None = None,
) -> dict[str, Any]:
    """Append one client event; answers ``{"event_id", "stream_ordering"}`` (or the first answer to a txn id, or
    the current state event it would only repeat). ``target_memberships``: what the state key's membership must
    be now (a kick or an unban)."""
    stores = context.stores

    def write(conn: Connection) -> Appended | dict[str, Any]:
        """The event's part of its batch (``tasks/group_commit.py``), under the room's lock."""
        if txn_id is not None and device_id is not None:
            earlier = stores.events.get_txn_event_id(conn, sender, device_id, room_id, txn_id)
            if earlier is not None:
                stored = stores.events.get_event(conn, earlier)
                first = {"event_id": earlier, "stream_ordering": stored.stream_ordering if stored else 0}
                answer(context, first)
                return first
        room = stores.rooms.get_room(conn, room_id)
        if room is None:
            raise NotFound("Unknown room")
        template = EventTemplate(event_type, content, state_key, redacts)
        unchanged = check_client_event(stores, conn, room_id, sender, template, target_memberships)
        if unchanged is not None:
            return {"event_id": unchanged.event_id, "stream_ordering": unchanged.stream_ordering}
        appended = append_event(context, conn, room, template, sender)
        if txn_id is not None and device_id is not None:
            stores.events.insert_txn_event_id(conn, sender, device_id, room_id, txn_id, appended.event.event_id,
                                              context.clock.now_ms())
        answer(context, {"event_id": appended.event.event_id, "stream_ordering": appended.stream_ordering})
        return appended

    appended = context.group_commit.run(context.database, room_id, write)
    if not isinstance(appended, Appended):
        return appended
    context.doorbell.ring(Ring(STREAM, context.instance_name, appended.stream_ordering,
                               ring_keys(room_id, [appended.event])))
    poke_pushers(context, [appended.push_to])
    poke_appservices(context)
    poke_federation(context, room_id, [appended.event])
    event = appended.event
    if event.type == "m.room.member" and event.membership in ("leave", "ban") and event.state_key:
        # Whoever leaves stops typing there (follow-up on the typing stream's own writer; a lost poke only
        # leaves them typing until their timeout).
        context.dispatcher.send(STOP_TYPING, room_id=room_id, user_id=event.state_key)
    return {"event_id": appended.event.event_id, "stream_ordering": appended.stream_ordering}


def create_room(
    context: TaskContext,
    *,
    room_id: str,
    room_version: str,
    creator: str,
    create_content: dict[str, Any],
    origin_server_ts: int,
    initial_events: list[dict[str, Any]],
) -> dict[str, Any]:
    """Create a room: the create event, then ``initial_events`` (templates in createRoom order), atomically.

    Redelivery after a commit finds the room and answers the same; for v12 the create event must hash to the
    room id the web tier derived, which it does because the draft is deterministic.
    """
    version = KNOWN_ROOM_VERSIONS[room_version]
    stores = context.stores
    with context.database.write() as conn:
        lock_room(conn, room_id)
        answer(context, {"room_id": room_id})
        if stores.rooms.get_room(conn, room_id) is not None:
            return {"room_id": room_id}
        room = Room(room_id, room_version, creator, context.clock.now_ms())
        stores.rooms.insert_room(conn, room)
        create = build_event(
            version, EventTemplate("m.room.create", create_content, state_key=""),
            room_id=None if version.room_id_format is RoomIdFormat.CREATE_EVENT_HASH else room_id,
            sender=creator, prev_events=(), auth_events=(), origin_server_ts=origin_server_ts,
            server_name=context.config.server_name, signing_key=context.signing_key,
            opaque_id=secrets.token_hex(9),
        )
        if version.room_id_format is RoomIdFormat.CREATE_EVENT_HASH and "!" + create.event_id[1:] != room_id:
            raise MatrixError("The create event does not match the room id", status=400)
        check_auth(create, {})
        last = _store(context, conn, room_id, create, [])
        appended = [last.event]
        push_to = []
        for template in initial_events:
            last = append_event(context, conn, room, EventTemplate(
                template["type"], template.get("content") or {}, template.get("state_key")), creator)
            appended.append(last.event)
            push_to.append(last.push_to)
    context.doorbell.ring(Ring(STREAM, context.instance_name, last.stream_ordering, ring_keys(room_id, appended)))
    poke_pushers(context, push_to)
    poke_appservices(context)
    poke_federation(context, room_id, appended)
    return {"room_id": room_id}


TASKS = (
    TaskSpec(CREATE_EVENT, family=STREAM, body=create_event, shard_param="room_id", returns_result=True,
             batched=True),
    TaskSpec(CREATE_ROOM, family=STREAM, body=create_room, shard_param="room_id", returns_result=True),
)
