"""Remote users' device lists, kept fresh (Server-Server API, "Device Management").

A remote user is tracked once a local user shares a room with them and their keys were asked for: a resync through
``GET /user/devices/{userId}`` stores every device and cross-signing key with the origin's stream id. After that,
``m.device_list_update`` EDUs apply incrementally while each one's ``prev_id`` names the update we hold; a gap
(an update went missing) means a resync. Every change becomes a row on our own device_lists stream (through the
outbox, like a local change), so local users' ``/sync`` ``device_lists.changed`` and ``/keys/changes`` name the
remote user. ``m.signing_key_update`` replaces the user's master and self-signing keys.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection

from federation_client.client import path_segment
from federation_client.errors import FederationError
from persistence.stores.remote_devices import RemoteDevice
from protocol.identifiers import UserId
from web.accounts.effects import AfterCommit
from web.deps import Deps

logger = logging.getLogger(__name__)
CROSS_SIGNING_FIELDS = {"master_key": "master", "self_signing_key": "self_signing"}
MAX_DEVICES = 10_000
"""A resync listing more devices than this is refused: no real user has them, and each becomes a row."""


class BadDeviceList(ValueError):
    """A remote answer or EDU that does not describe the user's devices as the spec says."""


def server_of(user_id: str) -> str:
    return UserId.parse(user_id).server_name


def shares_room_with_local_user(current: Deps, conn: Connection, user_id: str) -> bool:
    """Whether any local user is joined to a room ``user_id`` is joined to: only then do we track them."""
    ours = current.config.server_name
    for room_id in current.stores.state.list_rooms_with_membership(conn, user_id, "join"):
        if any(server_of(member) == ours for member in current.stores.state.list_members(conn, room_id, "join")):
            return True
    return False


def _device_keys(user_id: str, device_id: str, keys: Any) -> dict[str, Any] | None:
    if keys is None:
        return None
    if not isinstance(keys, dict) or keys.get("user_id") != user_id or keys.get("device_id") != device_id:
        raise BadDeviceList(f"keys of device {device_id!r} do not name it")
    return keys


def _cross_signing_key(user_id: str, key: Any) -> dict[str, Any]:
    if not isinstance(key, dict) or key.get("user_id") != user_id or not isinstance(key.get("keys"), dict):
        raise BadDeviceList("a cross-signing key of another user")
    return key


def parse_user_devices(user_id: str, answer: Any) -> tuple[int, list[RemoteDevice], dict[str, dict[str, Any]]]:
    """The stream id, devices and cross-signing keys of a ``/user/devices`` answer."""
    if not isinstance(answer, dict) or answer.get("user_id") != user_id:
        raise BadDeviceList("the answer is not about the user asked for")
    stream_id, devices = answer.get("stream_id"), answer.get("devices")
    if not isinstance(stream_id, int) or isinstance(stream_id, bool) or not isinstance(devices, list):
        raise BadDeviceList("stream_id and devices are required")
    if len(devices) > MAX_DEVICES:
        raise BadDeviceList("too many devices")
    parsed = []
    for device in devices:
        device_id = device.get("device_id") if isinstance(device, dict) else None
        if not isinstance(device_id, str) or not device_id:
            raise BadDeviceList("a device without a device_id")
        name = device.get("device_display_name")
        parsed.append(RemoteDevice(user_id, device_id, name if isinstance(name, str) else None,
                                   _device_keys(user_id, device_id, device.get("keys"))))
    cross = {key_type: _cross_signing_key(user_id, answer[field])
             for field, key_type in CROSS_SIGNING_FIELDS.items() if answer.get(field) is not None}
    return stream_id, parsed, cross


def resync(current: Deps, user_id: str, *, announce: bool) -> None:
    """Fetch and store ``user_id``'s whole device list; with ``announce``, local users' syncs learn it changed.

    Raises FederationError or BadDeviceList (nothing stored then: the old list stays, as Synapse keeps it).
    """
    answer = current.federation.client.get_json(server_of(user_id),
                                                f"/_matrix/federation/v1/user/devices/{path_segment(user_id)}")
    stream_id, devices, cross = parse_user_devices(user_id, answer)
    effects = AfterCommit()
    stores = current.stores.remote_devices
    with current.database.write() as conn:
        stores.replace_devices(conn, user_id, devices)
        for key_type, key in cross.items():
            stores.upsert_cross_signing_key(conn, user_id, key_type, key)
        stores.upsert_stream_id(conn, user_id, stream_id, current.clock.now_ms())
        if announce:
            effects.device_changed(current, conn, user_id, "")
    effects.apply(current)


def track(current: Deps, user_ids: list[str]) -> set[str]:
    """Of ``user_ids`` (one remote server's), those whose device lists we hold now, resyncing the untracked ones
    who share a room with a local user. Raises FederationError when the server cannot be asked."""
    with current.database.read() as conn:
        tracked = current.stores.remote_devices.list_tracked(conn, user_ids)
        wanted = [user_id for user_id in user_ids if user_id not in tracked
                  and shares_room_with_local_user(current, conn, user_id)]
    for user_id in wanted:
        try:
            resync(current, user_id, announce=False)
        except BadDeviceList as error:
            logger.info("not tracking %s: %s", user_id, error)
            continue
        tracked.add(user_id)
    return tracked


def handle_device_list_update(current: Deps, origin: str, content: dict[str, Any]) -> None:
    """``m.device_list_update`` from ``origin``: apply it when it follows the update we hold, resync when one
    went missing, ignore it for users not on ``origin`` or whom no local user shares a room with."""
    user_id, device_id, stream_id = content.get("user_id"), content.get("device_id"), content.get("stream_id")
    prev_ids = content.get("prev_id", [])
    if not isinstance(user_id, str) or not isinstance(device_id, str) or not isinstance(stream_id, int) \
            or not isinstance(prev_ids, list):
        return
    try:
        if server_of(user_id) != origin:
            return
    except ValueError:
        return
    with current.database.read() as conn:
        held = current.stores.remote_devices.get_stream_id(conn, user_id)
        if held is None and not shares_room_with_local_user(current, conn, user_id):
            return
    if held is not None and stream_id <= held:
        return  # already applied (a retried transaction)
    if held is None or not set(prev_ids) <= {held}:
        _resync_quietly(current, user_id)
        return
    try:
        keys = _device_keys(user_id, device_id, content.get("keys"))
    except BadDeviceList:
        _resync_quietly(current, user_id)
        return
    name = content.get("device_display_name")
    stores, effects = current.stores.remote_devices, AfterCommit()
    with current.database.write() as conn:
        if content.get("deleted") is True:
            stores.delete_device(conn, user_id, device_id)
        else:
            stores.upsert_device(conn, RemoteDevice(user_id, device_id, name if isinstance(name, str) else None, keys))
        stores.upsert_stream_id(conn, user_id, stream_id, current.clock.now_ms())
        effects.device_changed(current, conn, user_id, device_id)
    effects.apply(current)


def handle_signing_key_update(current: Deps, origin: str, content: dict[str, Any]) -> None:
    """``m.signing_key_update`` from ``origin``: a tracked user's new master and/or self-signing key."""
    user_id = content.get("user_id")
    if not isinstance(user_id, str):
        return
    try:
        if server_of(user_id) != origin:
            return
        keys = {key_type: _cross_signing_key(user_id, content[field])
                for field, key_type in CROSS_SIGNING_FIELDS.items() if content.get(field) is not None}
    except (ValueError, BadDeviceList):
        return
    stores, effects = current.stores.remote_devices, AfterCommit()
    with current.database.write() as conn:
        if current.stores.remote_devices.get_stream_id(conn, user_id) is None:
            return
        for key_type, key in keys.items():
            stores.upsert_cross_signing_key(conn, user_id, key_type, key)
            public = next(iter(key["keys"].values()), "")
            effects.cross_signing_key_changed(current, conn, user_id, key_type, str(public))
    effects.apply(current)


def _resync_quietly(current: Deps, user_id: str) -> None:
    try:
        resync(current, user_id, announce=True)
    except (FederationError, BadDeviceList) as error:
        # The list we hold stays; the next update (or /keys/query) tries again.
        logger.info("device list resync of %s failed: %s", user_id, error)
