"""Receiving PDUs in the web tier: checks 1-3, missing prev events fetched, then the room's events writer.

Spec: Server-Server API, "Checks performed on receipt of a PDU". The checks that need keys (signatures) and the
fetching of missing events need the network, so they happen here, where a request already waits on the network;
the checks that need the room's state run in the room's events writer (``tasks/federation/``), which stores.
Each PDU gets a result: ``{}`` when it was accepted (or soft-failed, which the sender is not told), else
``{"error": ...}``. A PDU whose room this server does not know, or that has no room id, gets no result: its
event id cannot even be computed without the room version (Synapse also drops those).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from federation_client.client import path_segment
from federation_client.errors import FederationError
from protocol.errors import Forbidden
from protocol.events.ids import event_id_of
from protocol.federation.pdus import CheckedPdu, MalformedPdu, check_pdu
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from protocol.signing import InvalidSignature, VerifyKey
from tasks import api as tasks_api
from web.deps import Deps
from web.federation.room_access import check_acl

logger = logging.getLogger(__name__)

MISSING_EVENTS_LIMIT = 10
"""Events asked of the origin per room when a received event's prev events are unknown (as Synapse asks)."""
SOFT_FAILED = "soft_failed"
"""The writer's outcome for a soft-failed event (``tasks/federation/remote_events.py``): not an error to tell."""


@dataclass
class RoomBatch:
    room_id: str
    room_version: RoomVersion
    checked: list[CheckedPdu]


def key_lookup(current: Deps) -> Any:
    """The keyring as :data:`protocol.federation.pdus.KeyLookup` (None: any key the server ever had)."""

    def lookup(server_name: str, key_id: str, at_ts: int | None) -> VerifyKey | None:
        return current.federation.keyring.verify_key(server_name, key_id, 0 if at_ts is None else at_ts)

    return lookup


def _event_id_or_none(pdu: dict[str, Any], room_version: RoomVersion) -> str | None:
    try:
        return event_id_of({key: value for key, value in pdu.items() if key != "event_id"}
                           if not room_version.event_id_in_event else pdu, room_version)
    except (ValueError, TypeError, KeyError):
        return None


def check_pdus(current: Deps, origin: str, pdus: Sequence[Any],
               results: dict[str, dict[str, Any]]) -> dict[str, RoomBatch]:
    """Checks 1-3 and the room's server ACL for each PDU; the failures go into ``results``, the rest by room."""
    lookup = key_lookup(current)
    batches: dict[str, RoomBatch] = {}
    for pdu in pdus:
        room_id = pdu.get("room_id") if isinstance(pdu, dict) else None
        if not isinstance(room_id, str):
            continue
        with current.database.read() as conn:
            room = current.stores.rooms.get_room(conn, room_id)
            if room is None or room.room_version not in KNOWN_ROOM_VERSIONS:
                continue
            room_version = KNOWN_ROOM_VERSIONS[room.room_version]
            event_id = _event_id_or_none(pdu, room_version)
            try:
                check_acl(current.stores, conn, room_id, origin)
            except Forbidden as exc:  # the room's server ACL denies the origin
                if event_id is not None:
                    results[event_id] = {"error": str(exc)}
                continue
        try:
            checked = check_pdu(pdu, room_version, lookup)
        except (MalformedPdu, InvalidSignature) as exc:
            logger.info("dropping PDU %s from %s: %s", event_id, origin, exc)
            if event_id is not None:
                results[event_id] = {"error": str(exc)}
            continue
        batches.setdefault(room_id, RoomBatch(room_id, room_version, [])).checked.append(checked)
    return batches


def fetch_missing_prev_events(current: Deps, origin: str, batch: RoomBatch) -> list[CheckedPdu]:
    """Ask ``origin`` (``/get_missing_events``, bounded) for the events between what we hold and the received
    events whose prev events we lack; each answer passes checks 1-3 too. Nothing is fetched when nothing is
    missing; an unreachable origin leaves the gap, and the writer refuses the events that fall into it."""
    received = {checked.event.event_id for checked in batch.checked}
    cited = {prev for checked in batch.checked for prev in checked.event.prev_event_ids} - received
    if not cited:
        return []
    with current.database.read() as conn:
        known = current.stores.event_graph.list_stored(conn, cited)
        missing = {event_id for event_id in cited if known.get(event_id, True)}  # unknown, or an outlier
        if not missing:
            return []
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
    lookup = key_lookup(current)
    fetched = []
    for pdu in found[:MISSING_EVENTS_LIMIT * 2] if isinstance(found, list) else []:
        if not isinstance(pdu, dict) or pdu.get("room_id") != batch.room_id:
            continue
        try:
            checked = check_pdu(pdu, batch.room_version, lookup)
        except (MalformedPdu, InvalidSignature) as exc:
            logger.info("a missing event from %s failed its checks: %s", origin, exc)
            continue
        if checked.event.event_id not in received:
            fetched.append(checked)
    return fetched


def receive_pdus(current: Deps, origin: str, pdus: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """The ``pdus`` part of a transaction's answer: event id -> ``{}`` or ``{"error": ...}``."""
    results: dict[str, dict[str, Any]] = {}
    for batch in check_pdus(current, origin, pdus, results).values():
        fetched = fetch_missing_prev_events(current, origin, batch)
        everything = [*fetched, *batch.checked]
        answer = tasks_api.receive_pdus(
            current.dispatcher, room_id=batch.room_id, origin=origin,
            pdus=[dict(checked.event.pdu) for checked in everything],
            rejected={checked.event.event_id: checked.rejected_reason for checked in everything
                      if checked.rejected_reason is not None})
        outcomes: dict[str, str | None] = answer["outcomes"]
        for checked in batch.checked:
            outcome = outcomes.get(checked.event.event_id)
            results[checked.event.event_id] = {} if outcome in (None, SOFT_FAILED) else {"error": outcome}
    return results
