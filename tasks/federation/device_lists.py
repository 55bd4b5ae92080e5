"""Outbound device-list EDUs (Server-Server API, "Device Management" and "End-to-End Encryption").

The device_lists writer pokes :data:`SEND_DEVICE_LIST_UPDATES` after it committed a local user's rows (remote
users' rows come from their own server, which tells the others itself). Each device row becomes one
``m.device_list_update`` whose ``stream_id`` is the row's and whose ``prev_id`` names the user's device row before
it, so a server that missed one sees the gap and resyncs through ``/user/devices`` (whose ``stream_id`` is the
user's latest row, ``web/federation/user_keys.py``); a master or self-signing key row becomes an
``m.signing_key_update`` (a user-signing key is its owner's alone). They go to every server sharing a room with
the user, in stream order, never coalesced: the receiver needs the whole chain.

The EDU carries the device as it is when this runs (a later change overtaking an earlier row only sends the
newer keys twice); a device that no longer exists is sent as ``deleted``. Display names stay private, as with
Synapse's default (``allow_device_name_lookup_over_federation`` off).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from persistence.stores.device_lists import DeviceListChange
from protocol.identifiers import server_of
from tasks.context import TaskContext
from tasks.federation.destinations import federation_enabled, user_destinations
from tasks.federation.fan_out import FAMILY, queue_edu
from tasks.registry import TaskSpec

SEND_DEVICE_LIST_UPDATES = "federation.send_device_list_updates"
FEDERATED_SIGNING_KEYS = {"master": "master_key", "self_signing": "self_signing_key"}
"""Cross-signing key types other servers hear of, with their ``m.signing_key_update`` field."""


def poke_device_list_updates(context: TaskContext, user_id: str, stream_ids: list[int], rooms: list[str]) -> None:
    """After the device_lists writer committed ``stream_ids`` for ``user_id``, who is joined to ``rooms``: have
    them sent if the user is ours and another server is in one of the rooms (one indexed probe per room, most
    often answering no: nothing to send)."""
    ours = context.config.server_name
    if not stream_ids or server_of(user_id) != ours or not federation_enabled(context):
        return
    with context.database.read() as conn:
        if not any(context.stores.federation_sending.has_remote_members(conn, room_id, ours) for room_id in rooms):
            return
    context.dispatcher.send(SEND_DEVICE_LIST_UPDATES, user_id=user_id, stream_ids=stream_ids)


def _device_update(context: TaskContext, conn: Connection, change: DeviceListChange,
                   prev_id: int | None) -> dict[str, Any]:
    stores = context.stores
    content: dict[str, Any] = {"user_id": change.user_id, "device_id": change.device_id,
                               "stream_id": change.stream_id, "prev_id": [] if prev_id is None else [prev_id]}
    if stores.devices.get_device(conn, change.user_id, change.device_id) is None:
        content["deleted"] = True
        return content
    keys = stores.e2e_keys.get_device_keys(conn, change.user_id, change.device_id)
    if keys is not None:
        content["keys"] = keys
    return content


def _signing_key_update(context: TaskContext, conn: Connection, user_id: str) -> dict[str, Any] | None:
    keys = context.stores.cross_signing.list_keys(conn, [user_id]).get(user_id, {})
    content: dict[str, Any] = {"user_id": user_id}
    for key_type, field in FEDERATED_SIGNING_KEYS.items():
        if key_type in keys:
            content[field] = keys[key_type].key
    return content if len(content) > 1 else None


def send_device_list_updates(context: TaskContext, *, user_id: str, stream_ids: list[int]) -> int:
    """Queue the EDUs for ``user_id``'s rows ``stream_ids`` for every server sharing a room with them; answers how
    many EDUs were queued per destination (0 when no other server shares a room)."""
    wanted = set(stream_ids)
    edus: list[tuple[str, dict[str, Any]]] = []
    with context.database.read() as conn:
        destinations = user_destinations(context, conn, user_id)
        if not destinations:
            return 0
        prev_id: int | None = None
        signing_keys_changed = False
        for change in context.stores.device_lists.list_changes(conn, user_id):
            if change.cross_signing_key_type is not None:
                signing_keys_changed |= (change.stream_id in wanted
                                         and change.cross_signing_key_type in FEDERATED_SIGNING_KEYS)
                continue
            if change.stream_id in wanted:
                edus.append(("m.device_list_update", _device_update(context, conn, change, prev_id)))
            prev_id = change.stream_id
        signing = _signing_key_update(context, conn, user_id) if signing_keys_changed else None
    if signing is not None:
        edus.append(("m.signing_key_update", signing))
    for edu_type, content in edus:
        queue_edu(context, shard_key=user_id, edu_type=edu_type, content=content, destinations=destinations)
    return len(edus)


TASKS = (TaskSpec(SEND_DEVICE_LIST_UPDATES, family=FAMILY, body=send_device_list_updates, shard_param="user_id",
                  returns_result=True),)
