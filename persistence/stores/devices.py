"""Devices: one per login session, named by the client or by us."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update

from persistence.tables import devices


@dataclass(frozen=True)
class Device:
    user_id: str
    device_id: str
    display_name: str | None
    created_ts: int
    last_seen_ts: int | None
    last_seen_ip: str | None
    last_seen_user_agent: str | None = None


class DeviceStore:
    def get_device(self, conn: Connection, user_id: str, device_id: str, *, for_share: bool = False) -> Device | None:
        """``for_share`` holds the row until the transaction ends, so the device cannot be deleted meanwhile
        (PostgreSQL; SQLite serialises writers anyway): what is written about it then is not left behind."""
        query = select(devices).where(devices.c.user_id == user_id, devices.c.device_id == device_id)
        if for_share:
            query = query.with_for_update(read=True)
        row = conn.execute(query).mappings().first()
        return Device(**row) if row else None

    def list_devices(self, conn: Connection, user_id: str) -> list[Device]:
        rows = conn.execute(select(devices).where(devices.c.user_id == user_id).order_by(devices.c.device_id))
        return [Device(**row) for row in rows.mappings()]

    def insert_device(self, conn: Connection, device: Device) -> None:
        conn.execute(insert(devices).values(**device.__dict__))

    def update_display_name(self, conn: Connection, user_id: str, device_id: str, name: str | None) -> bool:
        result = conn.execute(
            update(devices)
            .where(devices.c.user_id == user_id, devices.c.device_id == device_id)
            .values(display_name=name)
        )
        return result.rowcount > 0

    def update_last_seen(self, conn: Connection, user_id: str, device_id: str, ts: int, ip: str | None,
                         user_agent: str | None = None) -> None:
        conn.execute(
            update(devices)
            .where(devices.c.user_id == user_id, devices.c.device_id == device_id)
            .values(last_seen_ts=ts, last_seen_ip=ip, last_seen_user_agent=user_agent)
        )

    def delete_devices(self, conn: Connection, user_id: str, device_ids: list[str]) -> list[str]:
        """Delete the named devices that exist; returns the ids that were actually deleted."""
        existing = [
            row.device_id
            for row in conn.execute(
                select(devices.c.device_id).where(devices.c.user_id == user_id, devices.c.device_id.in_(device_ids))
            )
        ]
        if existing:
            conn.execute(delete(devices).where(devices.c.user_id == user_id, devices.c.device_id.in_(existing)))
        return existing
