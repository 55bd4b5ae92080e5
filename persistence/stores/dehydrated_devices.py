"""Dehydrated devices (MSC3814): per user at most one, a device in ``devices`` plus its ``device_data``.

Written by the web tier directly under the user's ``dehydrated_device`` lock (not a stream: nothing syncs it);
the device row itself goes through the usual device-list change path, and its keys are the device's keys in the
end-to-end key tables, published as ``POST /keys/upload`` publishes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from persistence.locks import lock_user
from persistence.tables import dehydrated_devices

DEHYDRATED_DEVICE = "dehydrated_device"


@dataclass(frozen=True)
class DehydratedDevice:
    user_id: str
    device_id: str
    device_data: dict[str, Any]


def lock_dehydrated_device(conn: Connection, user_id: str) -> None:
    """Hold the user's dehydrated-device lock until the transaction ends: replacing the device is a
    read-modify-write (find the old one, delete it, create the new one) two clients may race."""
    lock_user(conn, DEHYDRATED_DEVICE, user_id)


class DehydratedDeviceStore:
    def get_dehydrated_device(self, conn: Connection, user_id: str) -> DehydratedDevice | None:
        row = conn.execute(select(dehydrated_devices).where(dehydrated_devices.c.user_id == user_id)).first()
        if row is None:
            return None
        return DehydratedDevice(row.user_id, row.device_id, json.loads(row.device_data))

    def insert_dehydrated_device(self, conn: Connection, device: DehydratedDevice) -> None:
        """Record ``device`` (its row in ``devices`` must exist) as the user's only dehydrated device."""
        conn.execute(delete(dehydrated_devices).where(dehydrated_devices.c.user_id == device.user_id))
        conn.execute(insert(dehydrated_devices).values(
            user_id=device.user_id, device_id=device.device_id,
            device_data=json.dumps(device.device_data, separators=(",", ":"))))
