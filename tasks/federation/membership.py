"""Membership events from federation, persisted by the room's events writer (family ``events``, by room id).

The web tier has already checked what needs keys (every signature an event must carry) and the event's shape
(``protocol/federation/membership.py``); here, under the room's lock, the rules that need the room, through the
writer's path for received events (``tasks/federation/remote_events.py``: checks 4-6, the DAG, state groups,
extremities). A handshake's event must also be allowed by the current state (else it is refused, not soft failed:
the remote server is waiting for our answer).

Three more ways a room's membership changes through another server:

- an invite for one of our users to a room we may know nothing of (``PUT /invite``), kept with the stripped
  state the inviting server sent, so the invitee's ``/sync`` shows it (and our user's knock or leave there);
- one of our users joining a room through a resident server: the state and auth chain it answered are stored
  as outliers, and the join becomes the first event of the room's timeline here, on the state the resident sent;
- an invite rejected while the inviting server is unreachable: a leave signed by us alone, stored only here.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from persistence.doorbell import Ring
from persistence.locks import lock_room
from persistence.stores.rooms import Room
from protocol.auth import AuthError, check_auth, room_creator
from protocol.errors import Forbidden, NotFound
from protocol.events.builder import EventTemplate, build_event
from protocol.events.model import Event, StateKey
from protocol.identifiers import server_of
from protocol.room_versions import KNOWN_ROOM_VERSIONS
from tasks.api import ACCEPT_REMOTE_MEMBERSHIP, JOIN_REMOTE_ROOM, REJECT_INVITE_LOCALLY, STORE_OUTSIDE_MEMBERSHIP
from tasks.appservices import poke_appservices
from tasks.context import TaskContext
from tasks.events import STREAM, ring_keys
from tasks.federation.fan_out import poke_federation
from tasks.federation.remote_events import RemoteEvent, persist_remote_events
from tasks.ledger import answer
from tasks.push_actions import record_push_actions
from tasks.pushers import poke_pushers
from tasks.registry import TaskSpec


def _current_state(context: TaskContext, conn: Connection, room_id: str) -> dict[StateKey, Event]:
    ids = context.stores.state.get_current_state_ids(conn, room_id)
    found = context.stores.events.get_events(conn, ids.values())
    return {key: found[event_id].event for key, event_id in ids.items() if event_id in found}


def accept_remote_membership(context: TaskContext, *, room_id: str, pdu: dict[str, Any]) -> dict[str, Any]:
    """A join, leave, knock or invite another server built for this room (``send_*``, ``/invite`` of a room we
    are in); answers ``{"event_id", "stream_ordering"}``, the same again for an event already stored.

    Unlike an event arriving in a transaction, one handed over in a handshake must be allowed by the room's
    current state *now*, or nothing is stored and the server is told 403: a join that would only soft-fail must
    not leave its user believing they are in.
    """
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
        try:
            check_auth(event, _current_state(context, conn, room_id))
        except AuthError as exc:
            raise Forbidden(f"The event is not allowed: {exc}") from None
        persisted = persist_remote_events(context, conn, room, events=[RemoteEvent(event)])
        outcome = persisted.outcomes.get(event.event_id)
        if outcome is not None or not persisted.appended:
            raise Forbidden(f"The event is not allowed: {outcome}")  # rolls the transaction back
        appended = persisted.appended[0]
        result = {"event_id": event.event_id, "stream_ordering": appended.stream_ordering}
        answer(context, result)
    context.doorbell.ring(Ring(STREAM, context.instance_name, appended.stream_ordering,
                               ring_keys(room_id, [event])))
    poke_pushers(context, [appended.push_to])
    poke_appservices(context)
    poke_federation(context, room_id, [event], on_behalf_of=server_of(event.sender))
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
        push_to = record_push_actions(context, conn, room_id, event, stream_ordering)
        result = {"event_id": event.event_id, "stream_ordering": stream_ordering}
        answer(context, result)
    context.doorbell.ring(Ring(STREAM, context.instance_name, stream_ordering, ring_keys(room_id, [event])))
    poke_pushers(context, [push_to])
    return result


def _retire_out_of_band(context: TaskContext, conn: Connection, room_id: str, user_id: str) -> str | None:
    """The user's current membership event in the room, taken out of the timeline when it was out of band (no
    state group: an invite or knock in a room we held no state of), so a later membership replaces it there:
    a rejected invite's room shows only the leave, a joined one starts at the join (as Synapse's outliers)."""
    stores = context.stores
    replaced = stores.state.get_current_state_event_id(conn, room_id, ("m.room.member", user_id))
    if replaced is not None and stores.state.get_event_state_group(conn, replaced) is None:
        stores.events.update_outlier(conn, replaced)
    return replaced


def _store_membership_alone(context: TaskContext, conn: Connection, room_id: str, event: Event) -> int:
    """A membership event of one of our users in a room we hold no state of (an invite, a local rejection):
    their membership there, outside any DAG we track, so no forward extremity and no state group."""
    stores = context.stores
    stream_ordering = stores.stream_ids.allocate(conn, STREAM, writer=context.instance_name)[0]
    replaced = _retire_out_of_band(context, conn, room_id, event.state_key or "")
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


def _adopt_state(context: TaskContext, conn: Connection, room_id: str,
                 sent: Mapping[StateKey, str]) -> dict[StateKey, str]:
    """Make the state a resident sent the room's current state here, before the join is judged against it: we
    held none of our own (at most our user's invite), so the resident's view is the only one there is. Events
    dropped on receipt or rejected are left out; returns the state adopted."""
    stores = context.stores
    found = stores.events.get_events(conn, sent.values())
    state = {key: event_id for key, event_id in sent.items()
             if event_id in found and found[event_id].rejected_reason is None}
    current = stores.state.get_current_state_ids(conn, room_id)
    for key, event_id in state.items():
        if current.get(key) != event_id:
            stores.state.upsert_current_state(conn, room_id, key, event_id, found[event_id].event.membership)
    for key in current.keys() - state.keys():
        stores.state.delete_current_state(conn, room_id, key)
    return state


def join_remote_room(context: TaskContext, *, room_id: str, room_version: str, join: dict[str, Any],
                     state: list[dict[str, Any]], auth_chain: list[dict[str, Any]]) -> dict[str, Any]:
    """Store what a resident server answered to our user's ``send_join`` (signatures and hashes were checked by
    the web tier, which holds the keys): its state and auth chain as outliers, each checked against its own auth
    events, then the join as the first event of the room's timeline here, on the state the resident sent."""
    stores = context.stores
    version = KNOWN_ROOM_VERSIONS[room_version]
    join_event = Event.from_pdu(join, version)
    outliers = [RemoteEvent(Event.from_pdu(pdu, version)) for pdu in [*auth_chain, *state]]
    state_before = {item.event.state_tuple: item.event.event_id for item in outliers[len(auth_chain):]
                    if item.event.is_state}
    with context.database.write() as conn:
        lock_room(conn, room_id)
        earlier = stores.events.get_event(conn, join_event.event_id)
        if earlier is not None and not earlier.rejected_reason:
            return {"event_id": earlier.event_id, "stream_ordering": earlier.stream_ordering}
        room = stores.rooms.get_room(conn, room_id)
        if room is None:
            create = next((item.event for item in outliers if item.event.type == "m.room.create"), None)
            if create is None:
                raise Forbidden("The resident server sent no m.room.create event")
            room = Room(room_id, room_version, room_creator(create) or create.sender, context.clock.now_ms())
            stores.rooms.insert_room(conn, room)
        _retire_out_of_band(context, conn, room_id, join_event.state_key or "")
        persist_remote_events(context, conn, room, outliers=outliers)
        adopted = _adopt_state(context, conn, room_id, state_before)
        persisted = persist_remote_events(context, conn, room,
                                          events=[RemoteEvent(join_event, state_before=adopted)])
        outcome = persisted.outcomes.get(join_event.event_id)
        if outcome is not None or not persisted.appended:
            raise Forbidden(f"The join is not allowed by the state the resident sent: {outcome}")
        appended = persisted.appended[-1]
        result = {"event_id": join_event.event_id, "stream_ordering": appended.stream_ordering}
        answer(context, result)
    context.doorbell.ring(Ring(STREAM, context.instance_name, appended.stream_ordering,
                               ring_keys(room_id, [join_event])))
    poke_appservices(context)
    poke_federation(context, room_id, [join_event])
    return result


TASKS = (
    TaskSpec(ACCEPT_REMOTE_MEMBERSHIP, family=STREAM, body=accept_remote_membership, shard_param="room_id",
             returns_result=True),
    TaskSpec(STORE_OUTSIDE_MEMBERSHIP, family=STREAM, body=store_outside_membership, shard_param="room_id",
             returns_result=True),
    TaskSpec(JOIN_REMOTE_ROOM, family=STREAM, body=join_remote_room, shard_param="room_id", returns_result=True),
    TaskSpec(REJECT_INVITE_LOCALLY, family=STREAM, body=reject_invite_locally, shard_param="room_id",
             returns_result=True),
)
