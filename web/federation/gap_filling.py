"""Filling gaps before received events: their missing prev events, then the state at what is still missing.

Spec: Server-Server API, "Backfilling and retrieving missing events". First the origin is asked, once and
bounded, for the events between what we hold and the received ones (``/get_missing_events``). Where prev events
of the events it brought are still missing, we ask for the state at each (``/state_ids``, then ``/event`` for
the events we lack): the event is then judged on the resolution of those states with the ones we know, and the
fetched events (the prev event, its state and auth chain) are stored as outliers. Every fetched event passes
checks 1-3 like a received one. An unreachable origin, or a gap too large for the bounds, leaves the event
unstorable: the writer refuses it, and the origin may send it again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from federation_client.client import path_segment
from federation_client.errors import FederationError
from protocol.events.ids import create_event_id_from_room_id
from protocol.events.model import Event, StateKey
from protocol.federation.pdus import CheckedPdu, MalformedPdu, check_pdu
from protocol.room_versions import RoomIdFormat
from protocol.signing import InvalidSignature
from web.deps import Deps
from web.federation.pdu_batches import RoomBatch, key_lookup

logger = logging.getLogger(__name__)

MISSING_EVENTS_LIMIT = 10
"""Events asked of the origin per room when a received event's prev events are unknown (as Synapse asks)."""
MAX_GAPS = 5
"""Prev events whose state is asked for, per room and transaction."""
MAX_FETCHED_EVENTS = 200
"""Events fetched one by one (``/event``) per room and transaction to complete those states."""


@dataclass
class Gaps:
    """What was fetched to judge events whose prev events are missing: outliers, and the state before each
    missing prev event (``RemoteEvent.prev_states``)."""

    outliers: list[CheckedPdu] = field(default_factory=list)
    prev_states: dict[str, dict[StateKey, str]] = field(default_factory=dict)


def _missing(current: Deps, cited: set[str]) -> set[str]:
    """Which of ``cited`` this server lacks as timeline events (unknown, or known only as outliers)."""
    with current.database.read() as conn:
        known = current.stores.event_graph.list_stored(conn, cited)
    return {event_id for event_id in cited if known.get(event_id, True)}


def checked_pdus(current: Deps, batch: RoomBatch, pdus: Any, origin: str) -> list[CheckedPdu]:
    """The events of ``pdus`` (an answer's list) in the batch's room that pass checks 1-3; the rest are logged."""
    lookup = key_lookup(current)
    found = []
    for pdu in pdus if isinstance(pdus, list) else []:
        if not isinstance(pdu, dict) or not _may_be_in_room(pdu, batch):
            continue
        try:
            checked = check_pdu(pdu, batch.room_version, lookup)
        except (MalformedPdu, InvalidSignature) as exc:
            logger.info("an event fetched from %s failed its checks: %s", origin, exc)
            continue
        if "room_id" in pdu or checked.event.event_id == create_event_id_from_room_id(batch.room_id,
                                                                                      batch.room_version):
            found.append(checked)
    return found


def _may_be_in_room(pdu: dict[str, Any], batch: RoomBatch) -> bool:
    """Whether ``pdu`` claims the batch's room: by its ``room_id``, or, for the create event of a room version
    whose room id names its create event (v12), by having none (its id is then checked against the room id)."""
    if "room_id" in pdu:
        return pdu["room_id"] == batch.room_id
    return pdu.get("type") == "m.room.create" and \
        batch.room_version.room_id_format is RoomIdFormat.CREATE_EVENT_HASH


def fetch_missing_prev_events(current: Deps, origin: str, batch: RoomBatch) -> list[CheckedPdu]:
    """Ask ``origin`` for the events between what we hold and the received events whose prev events we lack."""
    received = {checked.event.event_id for checked in batch.checked}
    cited = {prev for checked in batch.checked for prev in checked.event.prev_event_ids} - received
    missing = _missing(current, cited) if cited else set()
    if not missing:
        return []
    with current.database.read() as conn:
        extremities = current.stores.events.list_forward_extremities(conn, batch.room_id)
        depths = [stored.event.depth for stored in current.stores.events.get_events(conn, extremities).values()]
    latest = sorted(checked.event.event_id for checked in batch.checked
                    if missing.intersection(checked.event.prev_event_ids))
    request = {"earliest_events": extremities, "latest_events": latest, "limit": MISSING_EVENTS_LIMIT,
               "min_depth": min(depths, default=0)}
    try:
        answer = current.federation.client.post_json(
            origin, f"/_matrix/federation/v1/get_missing_events/{path_segment(batch.room_id)}", request)
    except FederationError as exc:
        logger.info("get_missing_events from %s for %s failed: %s", origin, batch.room_id, exc)
        return []
    found = answer.get("events") if isinstance(answer, dict) else None
    fetched = checked_pdus(current, batch, found[:MISSING_EVENTS_LIMIT] if isinstance(found, list) else [], origin)
    return [checked for checked in fetched if checked.event.event_id not in received]


def _fetch_event(current: Deps, origin: str, batch: RoomBatch, event_id: str) -> CheckedPdu | None:
    try:
        answer = current.federation.client.get_json(origin, f"/_matrix/federation/v1/event/{path_segment(event_id)}")
    except FederationError as exc:
        logger.info("fetching %s from %s failed: %s", event_id, origin, exc)
        return None
    pdus = answer.get("pdus") if isinstance(answer, dict) else None
    found = [checked for checked in checked_pdus(current, batch, pdus, origin) if checked.event.event_id == event_id]
    return found[0] if found else None


def _state_ids_at(current: Deps, origin: str, batch: RoomBatch, event_id: str) -> tuple[list[str], list[str]] | None:
    """The ids of the state before ``event_id`` and of its auth chain, as the origin holds them."""
    try:
        answer = current.federation.client.get_json(
            origin, f"/_matrix/federation/v1/state_ids/{path_segment(batch.room_id)}", {"event_id": event_id})
    except FederationError as exc:
        logger.info("state_ids at %s from %s failed: %s", event_id, origin, exc)
        return None
    if not isinstance(answer, dict):
        return None

    def ids(key: str) -> list[str]:
        value = answer.get(key)
        return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []

    return ids("pdu_ids"), ids("auth_chain_ids")


def _state_map(current: Deps, fetched: dict[str, CheckedPdu], state_ids: list[str]) -> dict[StateKey, str] | None:
    """The state named by ``state_ids``, keyed by each event's ``(type, state_key)``; None when one of them is
    unknown or not a state event (then the origin's answer cannot be used)."""
    events: dict[str, Event] = {event_id: fetched[event_id].event for event_id in state_ids if event_id in fetched}
    with current.database.read() as conn:
        stored = current.stores.events.get_events(conn, [event_id for event_id in state_ids if event_id not in events])
    events.update({event_id: item.event for event_id, item in stored.items()})
    state: dict[StateKey, str] = {}
    for event_id in state_ids:
        event = events.get(event_id)
        if event is None or not event.is_state:
            return None
        state[event.state_tuple] = event_id
    return state


def fetch_state_at_gaps(current: Deps, origin: str, batch: RoomBatch, pulled: Sequence[CheckedPdu], *,
                        received: Sequence[CheckedPdu]) -> Gaps:
    """For each prev event of the ``pulled`` events (fetched by :func:`fetch_missing_prev_events`) still missing
    (at most :data:`MAX_GAPS`): the state before it, the event itself, and the events of that state and its auth
    chain we lack (at
    most :data:`MAX_FETCHED_EVENTS` in all). Only pulled events get this, as with Synapse: a ``received`` event
    whose own prev events ``/get_missing_events`` did not bring is dropped, and its sender may send it again."""
    events = [*pulled, *received]
    have = {checked.event.event_id for checked in events}
    cited = {prev for checked in pulled for prev in checked.event.prev_event_ids} - have
    gaps = Gaps()
    missing = sorted(_missing(current, cited)) if cited else []
    fetched: dict[str, CheckedPdu] = {}
    budget = MAX_FETCHED_EVENTS
    for prev_id in missing[:MAX_GAPS]:
        answer = _state_ids_at(current, origin, batch, prev_id)
        prev = _fetch_event(current, origin, batch, prev_id)
        if answer is None or prev is None:
            continue
        state_ids, chain_ids = answer
        with current.database.read() as conn:
            stored = current.stores.event_graph.list_stored(conn, [*state_ids, *chain_ids])
        wanted = [event_id for event_id in dict.fromkeys([*state_ids, *chain_ids])
                  if event_id not in stored and event_id not in fetched and event_id not in have]
        if len(wanted) > budget:
            logger.info("the state at %s from %s needs %d events: more than allowed", prev_id, origin, len(wanted))
            continue
        budget -= len(wanted)
        for event_id in wanted:
            found = _fetch_event(current, origin, batch, event_id)
            if found is not None:
                fetched[event_id] = found
        state = _state_map(current, fetched, state_ids)
        if state is None:
            continue
        gaps.prev_states[prev_id] = state  # before it: the writer applies it unless it is rejected
        fetched.setdefault(prev_id, prev)
    gaps.outliers = list(fetched.values())
    return gaps
