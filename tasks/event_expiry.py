"""Self-destructing events (MSC2228, ``enable_ephemeral_messages``): pruning them once they are due.

The events writer records an event's expiry as it stores it (``tasks/events.py``). Beat's sweep
(:func:`sweep_expiring_events`) finds the rooms holding due events and sends each room's events writer
:data:`EXPIRE_EVENTS`, which, under the room's lock as every write to the room's events, overwrites each due event
with its pruned form, drops its search text and forgets the expiry. Between the moment an event is due and the
sweep, readers already serve it pruned (``web/client/serving.py``), so the expiry is exact for clients and the
sweep only makes it so in the database. A lost poke is sent again by the next sweep.
"""

from __future__ import annotations

from persistence.locks import lock_room
from protocol.redaction import redact_event
from tasks.context import TaskContext
from tasks.registry import TaskSpec

EXPIRE_EVENTS = "events.expire_due"
SWEEP_EXPIRING_EVENTS = "background.sweep_expiring_events"
SWEEP_SECONDS = 5.0
ROOMS_PER_SWEEP = 100
"""Rooms one sweep pokes at most (those due longest first); the next sweep continues."""


def expire_events(context: TaskContext, *, room_id: str, now_ms: int) -> int:
    """Prune every event of ``room_id`` due by ``now_ms``; returns how many were due."""
    stores = context.stores
    with context.database.write() as conn:
        lock_room(conn, room_id)
        due = stores.event_expiry.list_due_in_room(conn, room_id, now_ms)
        found = stores.events.get_events(conn, due)
        for event_id in due:
            stored = found.get(event_id)
            if stored is not None:
                stores.events.replace_event_json(conn, event_id,
                                                 redact_event(stored.event.pdu, stored.event.room_version))
                stores.search.delete_entry(conn, event_id)
        stores.event_expiry.delete_expiries(conn, due)
    return len(due)


def sweep_expiring_events(context: TaskContext) -> int:
    """Have the events writer of each room holding due events prune them; returns the number of rooms poked."""
    if not context.config.enable_ephemeral_messages:
        return 0
    now = context.clock.now_ms()
    with context.database.read() as conn:
        rooms = context.stores.event_expiry.list_rooms_with_due(conn, now, ROOMS_PER_SWEEP)
    for room_id in rooms:
        context.dispatcher.send(EXPIRE_EVENTS, room_id=room_id, now_ms=now)
    return len(rooms)


TASKS = (
    TaskSpec(EXPIRE_EVENTS, family="events", body=expire_events, shard_param="room_id"),
)
"""The writer's task; the sweep is one of beat's background jobs (``tasks/background.py``)."""
