"""Membership events from federation, persisted by the room's events writer (family ``events``, by room id).

The web tier has already checked what needs keys (every signature an event must carry) and the event's shape
(``protocol/federation/membership.py``); here, under the room's lock, the rules that need the room: the event's
auth events must be known and allow it, the room's current state must allow it (else it is refused, not soft
failed: the remote server is waiting for our answer), and it is stored at the end of the room like a local event.

Three more ways a room's membership changes through another server:

- an invite for one of our users to a room we may know nothing of (``PUT /invite``), kept with the stripped
  state the inviting server sent, so the invitee's ``/sync`` shows it (and our user's knock or leave there);
- one of our users joining a room through a resident server: the state and auth chain it answered are stored
  as outliers, checked in auth order, and the join becomes the first event of the room's timeline here;
- an invite rejected while the inviting server is unreachable: a leave signed by us alone, stored only here.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from persistence.doorbell import Ring
from persistence.locks import lock_room
from persistence.stores.rooms import Room
from protocol.auth import CREATE_KEY, AuthError, check_auth, check_auth_against_auth_events, room_creator
from protocol.errors import Forbidden, NotFound
from protocol.events.builder import EventTemplate, build_event
from protocol.events.model import Event, StateKey
from protocol.federation.membership import in_auth_order
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from tasks.api import ACCEPT_REMOTE_MEMBERSHIP, JOIN_REMOTE_ROOM, REJECT_INVITE_LOCALLY, STORE_OUTSIDE_MEMBERSHIP
from tasks.context import TaskContext
from tasks.events import STREAM, append_received_event, ring_keys
from tasks.ledger import answer
from tasks.pushers import poke_pushers
from tasks.registry import TaskSpec


def _known_auth_state(context: TaskContext, conn: Connection, room_id: str, event: Event) -> list[Event]:
    stored = context.stores.events.get_events(conn, event.auth_event_ids)
    missing = [event_id for event_id in event.auth_event_ids
               if event_id not in stored or stored[event_id].room_id != room_id]
    if missing:
        raise Forbidden(f"The event cites auth events unknown in this room: {', '.join(missing[:5])}")
    return [item.event for item in stored.values()]


def _current_state(context: TaskContext, conn: Connection, room_id: str) -> dict[StateKey, Event]:
    ids = context.stores.state.get_current_state_ids(conn, room_id)
    found = context.stores.events.get_events(conn, ids.values())
    return {key: found[event_id].event for key, event_id in ids.items() if event_id in found}


def accept_remote_membership(context: TaskContext, *, room_id: str, pdu: dict[str, Any]) -> dict[str, Any]:
    """A join, leave, knock or invite another server built for this room (``send_*``, ``/invite`` of a room we
    are in); answers ``{"event_id", "stream_ordering"}``, the same again for an event already stored."""
    stores = context.stores
    with context.database.write() as conn:
        lock_room(conn, room_id)
        room = stores.rooms.get_room(conn, room_id)
        if room is None:
            raise NotFound("Unknown room")
        event = Event.from_pdu(pdu, KNOWN_ROOM_VERSIONS[room.room_version])
        earlier = stores.events.get_event(conn, event.event_id)
        if earlier is not None:
            return {"event_id": earlier.event_id, "stream_ordering": earlier.stream_ordering}
        state = _current_state(context, conn, room_id)
        create = state.get(CREATE_KEY)
        if create is None:
            raise NotFound("This server is not in the room")
        try:
            check_auth_against_auth_events(event, _known_auth_state(context, conn, room_id, event),
                                           create_event=create)
            check_auth(event, state)
        except AuthError as exc:
            raise Forbidden(f"The event is not allowed: {exc}") from None
        appended = append_received_event(context, conn, room_id, event)
        result = {"event_id": event.event_id, "stream_ordering": appended.stream_ordering}
        answer(context, result)
    context.doorbell.ring(Ring(STREAM, context.instance_name, appended.stream_ordering,
                               ring_keys(room_id, [event])))
    poke_pushers(context, [appended.push_to])
    return result


def store_outside_membership(context: TaskContext, *, room_id: str, room_version: str, pdu: dict[str, Any],
                             stripped_state: list[dict[str, Any]] | None) -> dict[str, Any]:
    """A membership of one of our users in a room this server is not in: an invite another server sent (signed
    by it and by us), or our user's knock or leave that a resident accepted.

    The room becomes known by its version; the event is the user's membership there. An invite or knock keeps
    the stripped state that came with it (``unsigned.invite_room_state`` / ``knock_room_state``, as Synapse keeps
    it), which ``/sync`` shows.
    """
    stores = context.stores
    version = KNOWN_ROOM_VERSIONS[room_version]
    event = Event.from_pdu(pdu, version)
    if stripped_state is not None and event.membership in ("invite", "knock"):
        event = Event(event.event_id, version, {**pdu, "unsigned": {
            **(pdu.get("unsigned") or {}), f"{event.membership}_room_state": stripped_state}})
    with context.database.write() as conn:
        lock_room(conn, room_id)
        room = stores.rooms.get_room(conn, room_id)
        if room is None:
            stores.rooms.insert_room(conn, Room(room_id, room_version, event.sender, context.clock.now_ms()))
        elif room.room_version != room_version:
            raise Forbidden("The event names another version than the room's")
        earlier = stores.events.get_event(conn, event.event_id)
        if earlier is not None:
            return {"event_id": earlier.event_id, "stream_ordering": earlier.stream_ordering}
        stream_ordering = _store_membership_alone(context, conn, room_id, event)
        result = {"event_id": event.event_id, "stream_ordering": stream_ordering}
        answer(context, result)
    context.doorbell.ring(Ring(STREAM, context.instance_name, stream_ordering, ring_keys(room_id, [event])))
    return result


def _store_membership_alone(context: TaskContext, conn: Connection, room_id: str, event: Event) -> int:
    """A membership event of one of our users in a room we hold no state of (an invite, a local rejection):
    their membership there, outside any DAG we track, so no forward extremity and no state group."""
    stores = context.stores
    stream_ordering = stores.stream_ids.allocate(conn, STREAM, writer=context.instance_name)[0]
    replaced = stores.state.get_current_state_event_id(conn, room_id, event.state_tuple)
    stores.events.insert_event(conn, event, room_id, stream_ordering, context.instance_name,
                               replaces_state=replaced)
    stores.state.upsert_current_state(conn, room_id, event.state_tuple, event.event_id, event.membership)
    stores.stream_ids.advance_position(conn, STREAM, context.instance_name, stream_ordering)
    return stream_ordering


def reject_invite_locally(context: TaskContext, *, room_id: str, user_id: str) -> dict[str, Any]:
    """Reject an invite (or rescind a knock) in a room we are not in when no server of the room answers: a leave
    citing the invite, signed by us only (Synapse does the same), so the user's ``/sync`` moves the room to
    ``leave``."""
    stores = context.stores
    with context.database.write() as conn:
        lock_room(conn, room_id)
        room = stores.rooms.get_room(conn, room_id)
        invite_id = stores.state.get_current_state_event_id(conn, room_id, ("m.room.member", user_id))
        invite = stores.events.get_event(conn, invite_id) if invite_id else None
        if room is None or invite is None or invite.event.membership not in ("invite", "knock"):
            raise Forbidden("You are not invited to this room and have not knocked")
        leave = build_event(
            KNOWN_ROOM_VERSIONS[room.room_version], EventTemplate("m.room.member", {"membership": "leave"}, user_id),
            room_id=room_id, sender=user_id, prev_events=[invite.event], auth_events=[invite.event],
            origin_server_ts=context.clock.now_ms(), server_name=context.config.server_name,
            signing_key=context.signing_key, opaque_id=secrets.token_hex(9))
        stream_ordering = _store_membership_alone(context, conn, room_id, leave)
        result = {"event_id": leave.event_id, "stream_ordering": stream_ordering}
        answer(context, result)
    context.doorbell.ring(Ring(STREAM, context.instance_name, stream_ordering, ring_keys(room_id, [leave])))
    return result


def _check_in_auth_order(events: Sequence[Event], create: Event | None) -> dict[str, str]:
    """Each event against its own auth events, dependencies first; returns rejected event id -> reason.

    Spec: "Joining Rooms": the joining server checks the state and auth chain it receives. An event whose auth
    events are missing from what was sent, or rejected, is rejected too.
    """
    known: dict[str, Event] = {}
    rejected: dict[str, str] = {}
    for event in in_auth_order(events):
        known[event.event_id] = event
        cited = [known[event_id] for event_id in event.auth_event_ids if event_id in known]
        if len(cited) != len(set(event.auth_event_ids)):
            rejected[event.event_id] = "auth events missing"
            continue
        try:
            check_auth_against_auth_events(event, cited, create_event=create, rejected_event_ids=set(rejected))
        except AuthError as exc:
            rejected[event.event_id] = str(exc)[:200]
    return rejected


def join_remote_room(context: TaskContext, *, room_id: str, room_version: str, join: dict[str, Any],
                     state: list[dict[str, Any]], auth_chain: list[dict[str, Any]]) -> dict[str, Any]:
    """Store what a resident server answered to our user's ``send_join``: its state and auth chain as outliers
    (each checked against its auth events), then the join as the first event of the room's timeline here, with
    the room's state after it. Signatures and hashes were checked by the web tier, which holds the keys."""
    stores = context.stores
    version = KNOWN_ROOM_VERSIONS[room_version]
    join_event = Event.from_pdu(join, version)
    state_events = [Event.from_pdu(pdu, version) for pdu in state]
    everything = {event.event_id: event for event in
                  [*(Event.from_pdu(pdu, version) for pdu in auth_chain), *state_events]}
    create = next((event for event in everything.values() if event.type == "m.room.create"
                   and event.state_key == ""), None)
    if create is None:
        raise Forbidden("The resident server sent no m.room.create event")
    rejected = _check_in_auth_order(list(everything.values()), create)
    room_state = {event.state_tuple: event for event in state_events
                  if event.is_state and event.event_id not in rejected}
    try:
        check_auth(join_event, room_state)
    except AuthError as exc:
        raise Forbidden(f"The join is not allowed by the room's state: {exc}") from None
    with context.database.write() as conn:
        lock_room(conn, room_id)
        earlier = stores.events.get_event(conn, join_event.event_id)
        if earlier is not None:
            return {"event_id": earlier.event_id, "stream_ordering": earlier.stream_ordering}
        stream_ordering = _store_joined_room(context, conn, room_id, version, join_event, room_state,
                                             everything, rejected, create)
        result = {"event_id": join_event.event_id, "stream_ordering": stream_ordering}
        answer(context, result)
    context.doorbell.ring(Ring(STREAM, context.instance_name, stream_ordering, ring_keys(room_id, [join_event])))
    return result


def _store_joined_room(context: TaskContext, conn: Connection, room_id: str, version: RoomVersion, join: Event,
                       room_state: Mapping[StateKey, Event], everything: Mapping[str, Event],
                       rejected: Mapping[str, str], create: Event) -> int:
    stores = context.stores
    if stores.rooms.get_room(conn, room_id) is None:
        stores.rooms.insert_room(conn, Room(room_id, version.identifier, room_creator(create) or create.sender,
                                            context.clock.now_ms()))
    held = stores.events.get_events(conn, everything)
    new = [event for event_id, event in everything.items() if event_id not in held]
    orderings = stores.stream_ids.allocate(conn, STREAM, len(new) + 1, writer=context.instance_name)
    for event, stream_ordering in zip(in_auth_order(new), orderings, strict=False):
        stores.events.insert_event(conn, event, room_id, stream_ordering, context.instance_name,
                                   rejected_reason=rejected.get(event.event_id), outlier=True)
    join_ordering = orderings[-1]
    replaced = room_state.get(join.state_tuple)
    stores.events.insert_event(conn, join, room_id, join_ordering, context.instance_name,
                               replaces_state=replaced.event_id if replaced else None)
    before = {key: event.event_id for key, event in room_state.items()}
    after = before | {join.state_tuple: join.event_id}
    # The state the resident sent is the state before the join, which is the state after the join's prev events
    # (as the resident resolved them): readers that anchor a timeline on its first event's prev event (/sync,
    # /messages) find it there, though those events themselves live only on the resident.
    before_group = stores.state.insert_state_group(conn, room_id, join.event_id, None, before)
    grouped = stores.state.get_event_state_groups(conn, join.prev_event_ids)
    for prev_id in dict.fromkeys(join.prev_event_ids):
        if prev_id not in grouped:
            stores.state.insert_event_state_group(conn, prev_id, before_group)
    group = stores.state.insert_state_group(conn, room_id, join.event_id, before_group,
                                            {join.state_tuple: join.event_id})
    stores.state.insert_event_state_group(conn, join.event_id, group)
    for key, event_id in after.items():
        member = join if event_id == join.event_id else room_state[key]
        stores.state.upsert_current_state(conn, room_id, key, event_id, member.membership)
    stores.events.replace_forward_extremities(conn, room_id, stores.events.list_forward_extremities(conn, room_id),
                                              join.event_id)
    stores.stream_ids.advance_position(conn, STREAM, context.instance_name, join_ordering)
    return join_ordering


TASKS = (
    TaskSpec(ACCEPT_REMOTE_MEMBERSHIP, family=STREAM, body=accept_remote_membership, shard_param="room_id",
             returns_result=True),
    TaskSpec(STORE_OUTSIDE_MEMBERSHIP, family=STREAM, body=store_outside_membership, shard_param="room_id",
             returns_result=True),
    TaskSpec(JOIN_REMOTE_ROOM, family=STREAM, body=join_remote_room, shard_param="room_id", returns_result=True),
    TaskSpec(REJECT_INVITE_LOCALLY, family=STREAM, body=reject_invite_locally, shard_param="room_id",
             returns_result=True),
)
