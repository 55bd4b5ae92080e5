"""The device lists of remote users this server tracks (Server-Server API, "Device Management"): their devices
with signed device keys and their cross-signing keys, as last resynced or updated by ``m.device_list_update`` and
``m.signing_key_update``. A user with a ``remote_device_lists`` row is tracked; its devices answer /keys/query."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from persistence.tables import current_state_events, remote_device_lists, remote_devices
from persistence.upsert import upsert
from protocol.canonical_json import encode_canonical_json

DEVICE = "device"
"""``key_type`` of a device row; cross-signing rows hold the key's usage (``master``, ``self_signing``)."""


@dataclass(frozen=True)
class RemoteDevice:
    user_id: str
    device_id: str
    display_name: str | None
    keys: dict[str, Any] | None


def _encode(value: dict[str, Any] | None) -> str | None:
    return None if value is None else encode_canonical_json(value).decode()


class RemoteDeviceStore:
    def get_stream_id(self, conn: Connection, user_id: str) -> int | None:
        """The latest update stream id applied for ``user_id``; None when the user is not tracked."""
        row = conn.execute(select(remote_device_lists.c.stream_id)
                           .where(remote_device_lists.c.user_id == user_id)).one_or_none()
        return None if row is None else int(row.stream_id)

    def shares_room_with_server(self, conn: Connection, user_id: str, server_name: str) -> bool:
        """Whether ``user_id`` is joined to a room a user of ``server_name`` (ours) is joined to: only then is a
        remote device list worth tracking."""
        theirs, ours = current_state_events.alias("theirs"), current_state_events.alias("ours")
        suffix = ":" + server_name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        row = conn.execute(select(ours.c.state_key).join(theirs, theirs.c.room_id == ours.c.room_id).where(
            theirs.c.type == "m.room.member", theirs.c.state_key == user_id, theirs.c.membership == "join",
            ours.c.type == "m.room.member", ours.c.membership == "join",
            ours.c.state_key.like("%" + suffix, escape="\\")).limit(1)).first()
        return row is not None

    def list_tracked(self, conn: Connection, user_ids: Iterable[str]) -> set[str]:
        wanted = list(user_ids)
        if not wanted:
            return set()
        rows = conn.execute(select(remote_device_lists.c.user_id).where(remote_device_lists.c.user_id.in_(wanted)))
        return {row.user_id for row in rows}

    def untrack(self, conn: Connection, user_id: str) -> None:
        """Forget ``user_id``'s devices and keys: no local user shares a room with them any more."""
        conn.execute(delete(remote_devices).where(remote_devices.c.user_id == user_id))
        conn.execute(delete(remote_device_lists).where(remote_device_lists.c.user_id == user_id))

    def upsert_stream_id(self, conn: Connection, user_id: str, stream_id: int, now_ms: int) -> None:
        upsert(conn, remote_device_lists, {"user_id": user_id}, {"stream_id": stream_id, "updated_ts": now_ms})

    def replace_devices(self, conn: Connection, user_id: str, devices: list[RemoteDevice]) -> None:
        """A full resync: the devices ``/user/devices`` listed replace whatever was held."""
        conn.execute(delete(remote_devices).where(remote_devices.c.user_id == user_id,
                                                  remote_devices.c.key_type == DEVICE))
        if devices:
            conn.execute(insert(remote_devices), [
                {"user_id": user_id, "device_id": device.device_id, "key_type": DEVICE,
                 "display_name": device.display_name, "keys": _encode(device.keys)} for device in devices])

    def upsert_device(self, conn: Connection, device: RemoteDevice) -> None:
        upsert(conn, remote_devices, {"user_id": device.user_id, "key_type": DEVICE, "device_id": device.device_id},
               {"display_name": device.display_name, "keys": _encode(device.keys)})

    def delete_device(self, conn: Connection, user_id: str, device_id: str) -> None:
        conn.execute(delete(remote_devices).where(remote_devices.c.user_id == user_id,
                                                  remote_devices.c.key_type == DEVICE,
                                                  remote_devices.c.device_id == device_id))

    def upsert_cross_signing_key(self, conn: Connection, user_id: str, key_type: str, key: dict[str, Any]) -> None:
        upsert(conn, remote_devices, {"user_id": user_id, "key_type": key_type, "device_id": ""},
               {"display_name": None, "keys": _encode(key)})

    def list_devices(self, conn: Connection, user_ids: Iterable[str]) -> dict[str, list[RemoteDevice]]:
        wanted = list(user_ids)
        found: dict[str, list[RemoteDevice]] = {}
        if not wanted:
            return found
        rows = conn.execute(select(remote_devices).where(remote_devices.c.user_id.in_(wanted),
                                                         remote_devices.c.key_type == DEVICE)
                            .order_by(remote_devices.c.user_id, remote_devices.c.device_id))
        for row in rows:
            keys = json.loads(row.keys) if row.keys is not None else None
            found.setdefault(row.user_id, []).append(RemoteDevice(row.user_id, row.device_id, row.display_name, keys))
        return found

    def list_cross_signing_keys(self, conn: Connection, user_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """user id -> key type -> key."""
        wanted = list(user_ids)
        found: dict[str, dict[str, Any]] = {}
        if not wanted:
            return found
        rows = conn.execute(select(remote_devices).where(remote_devices.c.user_id.in_(wanted),
                                                         remote_devices.c.key_type != DEVICE))
        for row in rows:
            found.setdefault(row.user_id, {})[row.key_type] = json.loads(row.keys)
        return found
