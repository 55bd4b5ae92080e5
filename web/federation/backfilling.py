"""Backfilling: fetching a room's history from another server when a client pages past what this server holds.

Spec: Server-Server API, "Backfilling and retrieving missing events"; Client-Server API, ``/messages``. A room
joined over federation starts, here, at the join: its earlier events are known only as the join's state (outliers)
or not at all. When a client paging backwards reaches that horizon, the room's *backward extremities* (the
``prev_events`` of timeline events that this server holds without a state) are asked of a resident server with
``GET /backfill``; its events pass checks 1-3 as received ones do (``protocol/federation/pdus.py``), the state at
any gap left at the far end is fetched as for ``/send`` (``gap_filling``), and the room's events writer judges
and stores them as history (``tasks/federation/backfill.py``). The servers are tried in turn until one brings
events: those of the room's joined members, most members first (the likeliest to hold the history).
"""

from __future__ import annotations

import logging
from collections import Counter

from federation_client.client import path_segment
from federation_client.errors import FederationError
from protocol.room_versions import KNOWN_ROOM_VERSIONS
from protocol.tokens import RoomPosition
from tasks import api as tasks_api
from web.deps import Deps
from web.federation.gap_filling import checked_pdus, fetch_state_at_gaps
from web.federation.pdu_batches import RoomBatch

logger = logging.getLogger(__name__)

BACKFILL_LIMIT = 100
"""Events asked for per backfill (as Synapse asks)."""
MAX_EXTREMITIES = 5
"""Backward extremities named per request (``v``), the deepest first."""
MAX_SERVERS = 3
"""Servers tried per backfill before the client is answered with what this server has."""


def _servers(current: Deps, members: list[str]) -> list[str]:
    """The servers of ``members`` other than us that federation may reach, the most members first."""
    counts = Counter(user_id.split(":", 1)[1] for user_id in members if ":" in user_id)
    return sorted((server for server in counts
                   if server != current.config.server_name and current.config.federation.allows_domain(server)),
                  key=lambda server: (-counts[server], server))


def backfill_room(current: Deps, room_id: str, before: RoomPosition | None,
                  reached: RoomPosition | None = None) -> bool:
    """Fetch and store the room's history before its backward extremities cited between ``reached`` (open: the
    start of the room) and ``before``; answers whether a server brought events the writer could store (then the
    caller reads its page again). Call outside any transaction: it waits on other servers and on the room's
    events writer."""
    with current.database.read() as conn:
        extremities = current.stores.event_graph.list_backward_extremities(conn, room_id, before=before,
                                                                           reached=reached, limit=MAX_EXTREMITIES)
        if not extremities:
            return False
        room = current.stores.rooms.get_room(conn, room_id)
        servers = _servers(current, current.stores.state.list_members(conn, room_id, "join"))
    if room is None or room.room_version not in KNOWN_ROOM_VERSIONS:
        return False
    room_version = KNOWN_ROOM_VERSIONS[room.room_version]
    for server in servers[:MAX_SERVERS]:
        try:
            answer = current.federation.client.get_json(
                server, f"/_matrix/federation/v1/backfill/{path_segment(room_id)}",
                {"v": extremities, "limit": str(BACKFILL_LIMIT)})
        except FederationError as exc:
            logger.info("backfill of %s from %s failed: %s", room_id, server, exc)
            continue
        pdus = answer.get("pdus") if isinstance(answer, dict) else None
        batch = RoomBatch(room_id, room_version, [])
        batch.checked = checked_pdus(current, batch, pdus[:BACKFILL_LIMIT] if isinstance(pdus, list) else [], server)
        if not batch.checked:
            continue
        gaps = fetch_state_at_gaps(current, server, batch, batch.checked, received=[])
        result = tasks_api.backfill_pdus(
            current.dispatcher, room_id=room_id,
            pdus=[dict(checked.event.pdu) for checked in batch.checked],
            rejected={checked.event.event_id: checked.rejected_reason for checked in [*batch.checked, *gaps.outliers]
                      if checked.rejected_reason is not None},
            outliers=[dict(checked.event.pdu) for checked in gaps.outliers],
            prev_states={event_id: [[key[0], key[1], state_id] for key, state_id in state.items()]
                         for event_id, state in gaps.prev_states.items()})
        if result["not_stored"]:
            logger.info("backfill of %s from %s: %d of %d events could not be stored: %s", room_id, server,
                        len(result["not_stored"]), len(batch.checked), result["not_stored"])
        if len(result["outcomes"]) > len(result["not_stored"]):
            return True
    return False
