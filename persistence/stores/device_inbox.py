"""To-device messages (Client-Server API, "Send-to-Device messaging"): each device's inbox, and the record of
which sendToDevice transactions each recipient already got.

Written only by the to_device stream writers (insert on send, delete on acknowledgement); ``/sync`` reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from persistence.stream_ranges import between, up_to
from persistence.tables import device_inbox, to_device_txns
from protocol.sync_tokens import WriterPositions


@dataclass(frozen=True)
class ToDeviceMessage:
    device_id: str
    sender: str
    type: str
    content: dict[str, Any]


@dataclass(frozen=True)
class InboxItem:
    stream_id: int
    sender: str
    type: str
    content: dict[str, Any]


class DeviceInboxStore:
    def get_delivered_txn(self, conn: Connection, sender: str, sender_device: str, txn_id: str,
                          recipient: str) -> bool:
        return conn.execute(select(to_device_txns.c.recipient).where(
            to_device_txns.c.sender == sender, to_device_txns.c.sender_device == sender_device,
            to_device_txns.c.txn_id == txn_id, to_device_txns.c.recipient == recipient)).first() is not None

    def insert_delivered_txn(self, conn: Connection, sender: str, sender_device: str, txn_id: str,
                             recipient: str, now_ms: int) -> None:
        conn.execute(insert(to_device_txns).values(sender=sender, sender_device=sender_device, txn_id=txn_id,
                                                   recipient=recipient, created_ts=now_ms))

    def delete_delivered_txns_before(self, conn: Connection, before_ms: int) -> int:
        return conn.execute(delete(to_device_txns).where(to_device_txns.c.created_ts < before_ms)).rowcount

    def insert_messages(self, conn: Connection, user_id: str, messages: Iterable[tuple[int, ToDeviceMessage]],
                        instance_name: str) -> None:
        rows = [{"user_id": user_id, "device_id": message.device_id, "stream_id": stream_id,
                 "instance_name": instance_name, "sender": message.sender, "type": message.type,
                 "content": json.dumps(message.content, separators=(",", ":"), ensure_ascii=False)}
                for stream_id, message in messages]
        if rows:
            conn.execute(insert(device_inbox), rows)

    def list_inbox(self, conn: Connection, user_id: str, device_id: str, since: WriterPositions | None,
                   until: WriterPositions, limit: int) -> list[InboxItem]:
        """Up to ``limit`` messages for the device in the range, oldest first."""
        rows = conn.execute(select(device_inbox).where(
            device_inbox.c.user_id == user_id, device_inbox.c.device_id == device_id,
            between(device_inbox.c.instance_name, device_inbox.c.stream_id, since, until))
            .order_by(device_inbox.c.stream_id).limit(limit))
        return [InboxItem(int(row.stream_id), row.sender, row.type, json.loads(row.content)) for row in rows]

    def list_messages_between(self, conn: Connection, since: WriterPositions, until: WriterPositions,
                              limit: int) -> list[tuple[str, str, InboxItem]]:
        """Up to ``limit`` messages of every inbox written in the range, as (user, device, message), oldest first
        (application services follow the whole stream for their users)."""
        rows = conn.execute(select(device_inbox).where(
            between(device_inbox.c.instance_name, device_inbox.c.stream_id, since, until))
            .order_by(device_inbox.c.stream_id).limit(limit))
        return [(row.user_id, row.device_id,
                 InboxItem(int(row.stream_id), row.sender, row.type, json.loads(row.content))) for row in rows]

    def has_inbox_up_to(self, conn: Connection, user_id: str, device_id: str, until: WriterPositions) -> bool:
        """Whether the device still holds messages at or before ``until`` (received, so deletable)."""
        return conn.execute(select(device_inbox.c.stream_id).where(
            device_inbox.c.user_id == user_id, device_inbox.c.device_id == device_id,
            up_to(device_inbox.c.instance_name, device_inbox.c.stream_id, until)).limit(1)).first() is not None

    def delete_inbox_up_to(self, conn: Connection, user_id: str, device_id: str, until: WriterPositions) -> int:
        return conn.execute(delete(device_inbox).where(
            device_inbox.c.user_id == user_id, device_inbox.c.device_id == device_id,
            up_to(device_inbox.c.instance_name, device_inbox.c.stream_id, until))).rowcount

    def delete_device_inbox(self, conn: Connection, user_id: str, device_id: str) -> None:
        conn.execute(delete(device_inbox).where(device_inbox.c.user_id == user_id,
                                                device_inbox.c.device_id == device_id))
