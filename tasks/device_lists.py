"""The device-lists stream writer: turns committed device changes (outbox rows) into stream rows.

Sharded by user id. Draining is idempotent: rows leave the outbox in the same transaction that writes them to
the stream, so a redelivered or duplicated poke finds nothing left to do.
"""

from __future__ import annotations

from persistence.doorbell import Ring
from persistence.stores.device_lists import CROSS_SIGNING_KEY_TYPE, DeviceListChange
from tasks.api import DRAIN_DEVICE_LISTS
from tasks.context import TaskContext
from tasks.federation.device_lists import poke_device_list_updates
from tasks.registry import TaskSpec

STREAM = "device_lists"


def drain(context: TaskContext, *, user_id: str) -> int:
    """Append this user's pending device changes to the stream; returns how many were written."""
    stores = context.stores
    with context.database.write() as conn:
        items = stores.outbox.list_items(conn, STREAM, user_id, lock=True)
        if not items:
            return 0
        stream_ids = stores.stream_ids.allocate(conn, STREAM, len(items), writer=context.instance_name)
        changes = [
            DeviceListChange(stream_id, user_id, str(item.payload["device_id"]),
                             item.payload.get(CROSS_SIGNING_KEY_TYPE))
            for stream_id, item in zip(stream_ids, items, strict=True)
        ]
        stores.device_lists.insert_changes(conn, changes, context.instance_name)
        stores.outbox.delete_items(conn, [item.id for item in items])
        stores.stream_ids.advance_position(conn, STREAM, context.instance_name, stream_ids[-1])
        # Everyone sharing a room with the user must look again, so the ring names the user's rooms too.
        rooms = stores.state.list_rooms_with_membership(conn, user_id, "join")
    context.doorbell.ring(Ring(STREAM, context.instance_name, stream_ids[-1], (user_id, *rooms)))
    poke_device_list_updates(context, user_id, stream_ids, rooms)
    return len(changes)


TASKS = (TaskSpec(DRAIN_DEVICE_LISTS, family=STREAM, body=drain, shard_param="user_id", returns_result=True),)
