"""The events writer's side of backfilling: a room's history another server sent (``GET /backfill``), stored.

Spec: Server-Server API, "Backfilling and retrieving missing events". The web tier asks a resident server when a
client paging ``/messages`` backwards reaches the room's local horizon, and makes checks 1-3 (as for ``/send``);
here, under the room lock and in the room's events writer (sharded by room id, like every event of the room), the
events are judged and stored as history (``persist_backfilled_events``): negative stream orderings, a block below
every stored one given oldest first, as Synapse orders backfilled events, so they sort in time among themselves
and before the live events, and no ``/sync`` token's range ever holds them. Nothing is rung and nothing is sent
on: no ``/sync`` shows history, and the servers in the room had it before us.
"""

from __future__ import annotations

from typing import Any

from persistence.locks import lock_room
from protocol.errors import NotFound
from protocol.room_versions import KNOWN_ROOM_VERSIONS
from tasks.api import BACKFILL_PDUS
from tasks.context import TaskContext
from tasks.events import STREAM
from tasks.federation.receive import remote_items
from tasks.federation.remote_events import persist_backfilled_events
from tasks.ledger import answer
from tasks.registry import TaskSpec


def backfill_pdus(context: TaskContext, *, room_id: str, pdus: list[dict[str, Any]],
                  rejected: dict[str, str], outliers: list[dict[str, Any]],
                  prev_states: dict[str, list[list[str]]]) -> dict[str, Any]:
    """Persist the backfilled ``pdus`` of ``room_id``, with the ``outliers`` and ``prev_states`` fetched to judge
    the earliest of them; answers ``{"outcomes": ..., "not_stored": ...}`` as ``receive_pdus`` does."""
    with context.database.write() as conn:
        lock_room(conn, room_id)
        room = context.stores.rooms.get_room(conn, room_id)
        if room is None:
            raise NotFound(f"Unknown room {room_id}")
        side, items = remote_items(KNOWN_ROOM_VERSIONS[room.room_version], pdus, rejected, outliers, prev_states)
        persisted = persist_backfilled_events(context, conn, room, outliers=side, events=items)
        result = {"outcomes": persisted.outcomes, "not_stored": persisted.not_stored}
        answer(context, result)
    return result


TASKS = (
    TaskSpec(BACKFILL_PDUS, family=STREAM, body=backfill_pdus, shard_param="room_id", returns_result=True),
)
