"""The device-lists stream: one row per (user, device) change, ordered by stream id."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, insert, select

from persistence.tables import device_lists_stream


@dataclass(frozen=True)
class DeviceListChange:
    stream_id: int
    user_id: str
    device_id: str


class DeviceListStore:
    def insert_changes(
        self, conn: Connection, changes: list[DeviceListChange], instance_name: str
    ) -> None:
        if changes:
            conn.execute(
                insert(device_lists_stream),
                [{**change.__dict__, "instance_name": instance_name} for change in changes],
            )

    def list_changes(self, conn: Connection, user_id: str, after: int = 0) -> list[DeviceListChange]:
        rows = conn.execute(
            select(device_lists_stream.c.stream_id, device_lists_stream.c.user_id, device_lists_stream.c.device_id)
            .where(device_lists_stream.c.user_id == user_id, device_lists_stream.c.stream_id > after)
            .order_by(device_lists_stream.c.stream_id)
        )
        return [DeviceListChange(row.stream_id, row.user_id, row.device_id) for row in rows]
