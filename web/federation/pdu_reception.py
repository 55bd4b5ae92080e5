"""Receiving PDUs in the web tier: checks 1-3, missing prev events fetched, then the room's events writer.

Spec: Server-Server API, "Checks performed on receipt of a PDU". The checks that need keys (signatures) and the
fetching of missing events need the network, so they happen here, where a request already waits on the network;
the checks that need the room's state run in the room's events writer (``tasks/federation/``), which stores.
Each PDU gets a result: ``{}`` once it is stored, whether accepted, soft-failed or rejected (the sender is told
no more, as Synapse answers), and ``{"error": ...}`` when it was dropped (checks 1-3, the room's ACL) or could not
be judged (prev or auth events out of reach). A PDU whose room this server does not know, or that has no room
id, gets no result: its event id cannot even be computed without the room version (Synapse also drops those).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from protocol.errors import Forbidden
from protocol.events.ids import event_id_of
from protocol.federation.pdus import MalformedPdu, check_pdu
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from protocol.signing import InvalidSignature
from tasks import api as tasks_api
from web.client.guest_access import remove_guests, revokes_guest_access
from web.deps import Deps
from web.federation.gap_filling import fetch_missing_prev_events, fetch_state_at_gaps
from web.federation.pdu_batches import RoomBatch, key_lookup
from web.federation.room_access import check_acl

logger = logging.getLogger(__name__)



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


def receive_pdus(current: Deps, origin: str, pdus: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """The ``pdus`` part of a transaction's answer: event id -> ``{}`` or ``{"error": ...}``."""
    results: dict[str, dict[str, Any]] = {}
    for batch in check_pdus(current, origin, pdus, results).values():
        fetched = fetch_missing_prev_events(current, origin, batch)
        everything = [*fetched, *batch.checked]
        gaps = fetch_state_at_gaps(current, origin, batch, fetched, received=batch.checked)
        answer = tasks_api.receive_pdus(
            current.dispatcher, room_id=batch.room_id, origin=origin,
            pdus=[dict(checked.event.pdu) for checked in everything],
            rejected={checked.event.event_id: checked.rejected_reason for checked in [*everything, *gaps.outliers]
                      if checked.rejected_reason is not None},
            outliers=[dict(checked.event.pdu) for checked in gaps.outliers],
            prev_states={event_id: [[key[0], key[1], state_id] for key, state_id in state.items()]
                         for event_id, state in gaps.prev_states.items()})
        not_stored: dict[str, str] = answer["not_stored"]
        for checked in batch.checked:
            reason = not_stored.get(checked.event.event_id)
            results[checked.event.event_id] = {} if reason is None else {"error": reason}
        accepted = [event_id for event_id, outcome in answer["outcomes"].items() if outcome is None]
        if any(checked.event.event_id in accepted
               and revokes_guest_access(checked.event.type, checked.event.state_key, checked.event.content)
               for checked in batch.checked):
            # A resident revoked guest access: this server's guests leave, as they would for a local revocation.
            remove_guests(current, batch.room_id)
    return results
