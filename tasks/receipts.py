"""The receipts stream writer (Client-Server API, "Receipts"), sharded by room id.

One row per (room, user, receipt type, thread) holds the latest receipt. A receipt for an event that does not
sort after the one already held is ignored, as Synapse ignores it: no write, no stream position, no ring. So a
user's read position only ever moves forward, whatever order receipts arrive in.
"""

from __future__ import annotations

from typing import Any

from persistence.doorbell import Ring
from persistence.locks import lock_room_on_stream
from protocol.errors import NotFound
from protocol.receipts import READ_RECEIPTS, UNTHREADED, Receipt
from tasks.api import PUT_RECEIPT
from tasks.context import TaskContext
from tasks.federation.edus import receipt_stored
from tasks.pushers import SEND_BADGE
from tasks.registry import TaskSpec

STREAM = "receipts"


def put_receipt(context: TaskContext, *, room_id: str, user_id: str, receipt_type: str, event_id: str,
                thread_id: str | None) -> dict[str, Any]:
    """Store ``user_id``'s receipt unless it would move backwards; ``{"stored": bool}`` once committed. The view
    has checked the receipt type, that the user is joined and may see the event, and the thread."""
    stores = context.stores
    thread = thread_id if thread_id is not None else UNTHREADED
    with context.database.write() as conn:
        lock_room_on_stream(conn, STREAM, room_id)
        target = stores.events.get_event(conn, event_id)
        if target is None or target.room_id != room_id:
            raise NotFound("Event not found")
        held = stores.receipts.get_receipt_stream_ordering(conn, room_id, user_id, receipt_type, thread)
        if held is not None and held >= target.stream_ordering:
            return {"stored": False}
        stream_id = stores.stream_ids.allocate(conn, STREAM, writer=context.instance_name)[0]
        receipt = Receipt(room_id, user_id, receipt_type, thread, event_id, context.clock.now_ms())
        stores.receipts.upsert_receipt(conn, receipt, target.stream_ordering, stream_id, context.instance_name)
        stores.stream_ids.advance_position(conn, STREAM, context.instance_name, stream_id)
    context.doorbell.ring(Ring(STREAM, context.instance_name, stream_id, (room_id,)))
    receipt_stored(context, room_id, user_id, receipt_type, event_id, thread, receipt.ts)
    if receipt_type in READ_RECEIPTS:  # the badge on the user's devices goes down (Push Gateway API ``counts``)
        context.dispatcher.send(SEND_BADGE, user_id=user_id)
    return {"stored": True}


TASKS = (
    TaskSpec(PUT_RECEIPT, family=STREAM, body=put_receipt, shard_param="room_id", returns_result=True),
)
