"""The to_device stream writer: delivers send-to-device messages into device inboxes, and deletes what devices
have received.

Sharded by recipient user id; the web tier sends one task per writer, carrying every recipient that writer
owns. A retried transaction is recognised per recipient (``to_device_txns``), so a batch split over several
writers, retried after one failed, reaches each recipient exactly once. ``*`` means every device the recipient
has now; device ids the recipient does not have are dropped, as Synapse does.
"""

from __future__ import annotations

from typing import Any

from persistence.doorbell import Ring
from persistence.locks import lock_user
from persistence.stores.device_inbox import ToDeviceMessage
from protocol.sync_tokens import WriterPositions
from tasks.api import ACKNOWLEDGE_TO_DEVICE, SEND_TO_DEVICE
from tasks.context import TaskContext
from tasks.registry import TaskSpec

STREAM = "to_device"
ALL_DEVICES = "*"


def send(context: TaskContext, *, shard_key: str, sender: str, sender_device: str, txn_id: str,
         event_type: str, messages: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Deliver ``messages`` (recipient -> device id or ``*`` -> content); ``shard_key`` is any one recipient."""
    stores = context.stores
    delivered: list[str] = []
    last = 0
    with context.database.write() as conn:
        for recipient in sorted(messages):
            lock_user(conn, STREAM, recipient)
            if stores.device_inbox.get_delivered_txn(conn, sender, sender_device, txn_id, recipient):
                continue
            known = {device.device_id for device in stores.devices.list_devices(conn, recipient)}
            targets: dict[str, dict[str, Any]] = {}
            for device_id, content in messages[recipient].items():
                for target in (sorted(known) if device_id == ALL_DEVICES else [device_id]):
                    if target in known:
                        targets[target] = content
            if targets:
                ids = stores.stream_ids.allocate(conn, STREAM, len(targets), writer=context.instance_name)
                stores.device_inbox.insert_messages(conn, recipient, [
                    (stream_id, ToDeviceMessage(device_id, sender, event_type, content))
                    for stream_id, (device_id, content) in zip(ids, sorted(targets.items()), strict=True)],
                    context.instance_name)
                last = ids[-1]
                delivered.append(recipient)
            stores.device_inbox.insert_delivered_txn(conn, sender, sender_device, txn_id, recipient,
                                                     context.clock.now_ms())
        if last:
            stores.stream_ids.advance_position(conn, STREAM, context.instance_name, last)
    if delivered:
        context.doorbell.ring(Ring(STREAM, context.instance_name, last, tuple(delivered)))
    return {}


def acknowledge(context: TaskContext, *, user_id: str, device_id: str, floor: int,
                ahead: dict[str, int]) -> int:
    """Delete the device's messages at or before the position it has synced past; returns how many."""
    until = WriterPositions(floor, tuple(sorted((writer, position) for writer, position in ahead.items()
                                                if position > floor)))
    with context.database.write() as conn:
        return context.stores.device_inbox.delete_inbox_up_to(conn, user_id, device_id, until)


TASKS = (
    TaskSpec(SEND_TO_DEVICE, family=STREAM, body=send, shard_param="shard_key", returns_result=True),
    TaskSpec(ACKNOWLEDGE_TO_DEVICE, family=STREAM, body=acknowledge, shard_param="user_id"),
)
