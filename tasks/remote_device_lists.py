"""Remote users' device lists, kept fresh (Server-Server API, "Device Management"), on the ``background`` queue
so an inbound ``/send`` never waits for another server.

A remote user is tracked once a local user shares a room with them and their keys were asked for, or an update
about them arrived: a resync through ``GET /user/devices/{userId}`` stores every device and cross-signing key
with the origin's stream id. ``m.device_list_update`` EDUs then apply one by one while each one's ``prev_id``
names the update we hold; a gap (one went missing) means a resync. Each change becomes a row on our own
device_lists stream (the outbox, drained by the stream's writer, as for a local change), so local users'
``/sync`` ``device_lists.changed`` and ``/keys/changes`` name the remote user. Work for one user is serialised
(``persistence/single_flight.py``), so two updates never interleave their read and write of the stream id.

Membership drives tracking too (:func:`track_room_members`, poked by the events writer after a membership change
in a room with other servers): a remote user who comes to share a room with a local user is resynced at once, so
the first ``/keys/query`` of the clients (whose ``/sync`` names them in ``device_lists.changed``) is answered from
the cache, and one who no longer shares any is forgotten, so their server's later updates are ignored.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection

from federation_client.client import path_segment
from federation_client.errors import FederationError
from persistence.stores.device_lists import CROSS_SIGNING_KEY_TYPE
from persistence.stores.remote_devices import RemoteDevice
from protocol.federation.device_lists import (
    BadDeviceList,
    parse_device_list_update,
    parse_signing_key_update,
    parse_user_devices,
    server_of,
)
from tasks import api
from tasks.context import TaskContext
from tasks.registry import TaskSpec

logger = logging.getLogger(__name__)
FAMILY = "background"
DEVICE_LISTS = "device_lists"
TRACK_ROOM_MEMBERS = "background.track_room_members"


def _announce(context: TaskContext, conn: Connection, user_id: str, payload: dict[str, str]) -> None:
    context.stores.outbox.insert_item(conn, DEVICE_LISTS, user_id, payload, context.clock.now_ms())


def _resync(context: TaskContext, user_id: str, *, announce: bool) -> bool:
    """Fetch and store ``user_id``'s whole device list; False (the old list kept) when that fails."""
    assert context.federation_client is not None, "a task worker builds its federation client"
    try:
        answer = context.federation_client.get_json(
            server_of(user_id), f"/_matrix/federation/v1/user/devices/{path_segment(user_id)}")
        listed = parse_user_devices(user_id, answer)
    except (FederationError, BadDeviceList) as error:
        logger.info("device list resync of %s failed: %s", user_id, error)
        return False
    store = context.stores.remote_devices
    with context.database.write() as conn:
        store.replace_devices(conn, user_id, [RemoteDevice(user_id, device.device_id, device.display_name,
                                                           device.keys) for device in listed.devices])
        for usage, key in listed.cross_signing.items():
            store.upsert_cross_signing_key(conn, user_id, usage, key)
        store.upsert_stream_id(conn, user_id, listed.stream_id, context.clock.now_ms())
        if announce:
            _announce(context, conn, user_id, {"device_id": ""})
    if announce:
        api.device_list_changed(context.dispatcher, user_id)
    return True


def resync_remote_device_list(context: TaskContext, *, user_id: str, announce: bool = False) -> bool:
    """Start tracking ``user_id`` (a ``/keys/query`` wants their keys, or they came to share a room with one of
    our users): whether we hold their list now. ``announce``: the fetched list is a change local clients must
    hear of (a list we stopped following may have changed meanwhile), not one a query is waiting for."""
    with context.single_flight.hold(context.database, f"devices/{user_id}"):
        with context.database.read() as conn:
            if context.stores.remote_devices.get_stream_id(conn, user_id) is not None:
                return True
        return _resync(context, user_id, announce=announce)


def apply_device_list_update(context: TaskContext, *, origin: str, content: dict[str, Any]) -> str:
    """Apply one ``m.device_list_update``; returns what was done (``applied``, ``resynced``, ``ignored``)."""
    try:
        update = parse_device_list_update(origin, content)
    except BadDeviceList as error:
        logger.info("dropped an m.device_list_update from %s: %s", origin, error)
        return "ignored"
    user_id, store = update.user_id, context.stores.remote_devices
    with context.single_flight.hold(context.database, f"devices/{user_id}"):
        with context.database.read() as conn:
            held = store.get_stream_id(conn, user_id)
            if held is None and not store.shares_room_with_server(conn, user_id, context.config.server_name):
                return "ignored"  # no local user shares a room with them: their devices are none of our business
        if held is not None and update.stream_id <= held:
            return "ignored"  # applied already (a retried transaction)
        if held is None or not set(update.prev_ids) <= {held}:
            return "resynced" if _resync(context, user_id, announce=True) else "ignored"
        with context.database.write() as conn:
            if update.deleted:
                store.delete_device(conn, user_id, update.device_id)
            else:
                store.upsert_device(conn, RemoteDevice(user_id, update.device_id, update.display_name, update.keys))
            store.upsert_stream_id(conn, user_id, update.stream_id, context.clock.now_ms())
            _announce(context, conn, user_id, {"device_id": update.device_id})
    api.device_list_changed(context.dispatcher, user_id)
    return "applied"


def apply_signing_key_update(context: TaskContext, *, origin: str, content: dict[str, Any]) -> bool:
    """Apply one ``m.signing_key_update`` to a tracked user; whether anything changed."""
    try:
        user_id, keys = parse_signing_key_update(origin, content)
    except BadDeviceList as error:
        logger.info("dropped an m.signing_key_update from %s: %s", origin, error)
        return False
    store = context.stores.remote_devices
    with context.single_flight.hold(context.database, f"devices/{user_id}"), context.database.write() as conn:
        if store.get_stream_id(conn, user_id) is None:
            return False
        for usage, key in keys.items():
            store.upsert_cross_signing_key(conn, user_id, usage, key)
            _announce(context, conn, user_id, {"device_id": str(next(iter(key["keys"].values()))),
                                               CROSS_SIGNING_KEY_TYPE: usage})
    api.device_list_changed(context.dispatcher, user_id)
    return True


def _remote_members(context: TaskContext, conn: Connection, room_id: str) -> list[str]:
    ours = context.config.server_name
    return [member for member in context.stores.state.list_members(conn, room_id, "join")
            if server_of(member) != ours]


def track_room_members(context: TaskContext, *, room_id: str, joined: list[str], left: list[str]) -> int:
    """After ``joined`` joined and ``left`` left (or were kicked or banned from) ``room_id``: start tracking the
    remote users who now share a room with a local user, stop tracking those who share none; a local user's join
    or leave concerns every remote member. Answers how many users' tracking changed."""
    ours, store = context.config.server_name, context.stores.remote_devices
    with context.database.read() as conn:
        members = _remote_members(context, conn, room_id) if any(
            server_of(user_id) == ours for user_id in (*joined, *left)) else []
        arrived = [user_id for user_id in dict.fromkeys(
            [*(user for user in joined if server_of(user) != ours), *(members if joined else [])])]
        gone = [user_id for user_id in dict.fromkeys(
            [*(user for user in left if server_of(user) != ours), *(members if left else [])])]
        untracked = set(arrived) - store.list_tracked(conn, arrived)
        start = [user_id for user_id in arrived if user_id in untracked and store.shares_room_with_server(
            conn, user_id, ours)]
        stop = [user_id for user_id in store.list_tracked(conn, gone)
                if not store.shares_room_with_server(conn, user_id, ours)]
    for user_id in stop:
        with context.single_flight.hold(context.database, f"devices/{user_id}"), context.database.write() as conn:
            if not store.shares_room_with_server(conn, user_id, ours):
                store.untrack(conn, user_id)
    for user_id in start:
        context.dispatcher.send(api.RESYNC_REMOTE_DEVICE_LIST, user_id=user_id, announce=True)
    return len(start) + len(stop)


TASKS = (
    TaskSpec(TRACK_ROOM_MEMBERS, family=FAMILY, body=track_room_members),
    TaskSpec(api.RESYNC_REMOTE_DEVICE_LIST, family=FAMILY, body=resync_remote_device_list, returns_result=True),
    TaskSpec(api.APPLY_DEVICE_LIST_UPDATE, family=FAMILY, body=apply_device_list_update),
    TaskSpec(api.APPLY_SIGNING_KEY_UPDATE, family=FAMILY, body=apply_signing_key_update),
)
