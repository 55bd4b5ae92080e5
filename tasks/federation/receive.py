"""The events writer's side of ``PUT /_matrix/federation/v1/send``: one room's received PDUs, judged and stored.

Sharded by room id on the events stream, like local events, so a room's remote and local events are ordered by
one writer under one lock, and ``/sync`` reads them through the same per-writer positions. The web tier sends
PDUs that passed checks 1-3 (``protocol/federation/pdus.py``), already redacted where their hash did not match;
the message's MAC (``tasks/envelope.py``) vouches for that.
"""

from __future__ import annotations

from typing import Any

from persistence.doorbell import Ring
from persistence.locks import lock_room
from protocol.errors import NotFound
from protocol.events.model import Event, StateKey
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from tasks.api import RECEIVE_PDUS
from tasks.appservices import poke_appservices
from tasks.context import TaskContext
from tasks.events import STREAM, ring_keys
from tasks.federation.fan_out import poke_federation
from tasks.federation.remote_events import RemoteEvent, persist_remote_events
from tasks.ledger import answer
from tasks.pushers import poke_pushers
from tasks.registry import TaskSpec


def _state_map(rows: list[list[str]]) -> dict[StateKey, str]:
    """``[[type, state_key, event_id], ...]`` (state maps travel as lists: JSON keys cannot be pairs)."""
    return {(event_type, state_key): event_id for event_type, state_key, event_id in rows}


def remote_items(room_version: RoomVersion, pdus: list[dict[str, Any]], rejected: dict[str, str],
                 outliers: list[dict[str, Any]], prev_states: dict[str, list[list[str]]],
                 ) -> tuple[list[RemoteEvent], list[RemoteEvent]]:
    """The task's arguments as events to judge: the outliers, then the timeline events, each with the
    rejection decided on receipt and the states the origin told about its prev events."""
    told = {event_id: _state_map(rows) for event_id, rows in prev_states.items()}
    side = [RemoteEvent(event, rejected_reason=rejected.get(event.event_id))
            for event in (Event.from_pdu(pdu, room_version) for pdu in outliers)]
    items = []
    for pdu in pdus:
        event = Event.from_pdu(pdu, room_version)
        relevant = {prev: told[prev] for prev in event.prev_event_ids if prev in told}
        items.append(RemoteEvent(event, rejected_reason=rejected.get(event.event_id), prev_states=relevant))
    return side, items


def receive_pdus(context: TaskContext, *, room_id: str, origin: str, pdus: list[dict[str, Any]],
                 rejected: dict[str, str] | None = None, outliers: list[dict[str, Any]] | None = None,
                 prev_states: dict[str, list[list[str]]] | None = None) -> dict[str, Any]:
    """Persist ``pdus`` of ``room_id`` sent by ``origin``; answers ``{"outcomes": {event_id: None | reason},
    "not_stored": {event_id: why}}`` (an outcome is ``soft_failed``, a rejection, or why the event could not be
    stored; ``not_stored`` tells the last kind apart). ``rejected``: event id -> reason for
    rejections decided on receipt. ``outliers``: state and auth events fetched to judge them; ``prev_states``:
    the state before each prev event the origin had to tell us about (``RemoteEvent.prev_states``)."""
    stores = context.stores
    with context.database.write() as conn:
        lock_room(conn, room_id)
        room = stores.rooms.get_room(conn, room_id)
        if room is None:
            raise NotFound(f"Unknown room {room_id}")
        side, items = remote_items(KNOWN_ROOM_VERSIONS[room.room_version], pdus, rejected or {}, outliers or [],
                                   prev_states or {})
        persisted = persist_remote_events(context, conn, room, outliers=side, events=items)
        result = {"outcomes": persisted.outcomes, "not_stored": persisted.not_stored}
        answer(context, result)
    if persisted.appended:
        last = max(appended.stream_ordering for appended in persisted.appended)
        context.doorbell.ring(Ring(STREAM, context.instance_name, last,
                                   ring_keys(room_id, [appended.event for appended in persisted.appended])))
        poke_pushers(context, [appended.push_to for appended in persisted.appended])
        poke_appservices(context)
        poke_federation(context, room_id, [appended.event for appended in persisted.appended])
    return result


TASKS = (
    TaskSpec(RECEIVE_PDUS, family=STREAM, body=receive_pdus, shard_param="room_id", returns_result=True),
)
