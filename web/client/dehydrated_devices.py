"""Dehydrated devices (MSC3814, ``/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device``): a device
a user parks on the server so that room keys sent while they have no other device logged in wait for them.

The dehydrated device is a real device (a row in ``devices``, announced on the device_lists stream like any new
device), so to-device messages to the user's devices reach its inbox; its ``device_data`` (the client's
encrypted pickle) is only ever given back to its owner. A user has at most one: uploading another replaces it,
deleting its device (``DELETE /dehydrated_device``, ``/devices``, ``/logout/all``) removes it. Its messages are
fetched in batches with ``next_batch`` tokens (positions in the to_device stream, like a ``/sync`` token) and,
as the MSC asks, are not deleted by fetching them: an interrupted rehydration may start again. Replacing or
deleting the device asks its to_device writer to drop what accumulated.

The keys the device is uploaded with (``device_keys``, ``one_time_keys``, ``fallback_keys``, in ``POST
/keys/upload``'s shapes) are checked and published exactly as that endpoint does (``web/client/keys.py``), in the
same transaction as the device: ``/keys/query`` serves the device (its keys say ``"dehydrated": true`` when the
client marked them so) and ``/keys/claim`` hands out its one-time and fallback keys. The MSC requires the identity
keys, so that no dehydrated device exists that cannot receive encrypted messages. Replacing or deleting the
device deletes its keys with it, as for any deleted device.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import Connection

from persistence.stores.dehydrated_devices import DehydratedDevice, lock_dehydrated_device
from persistence.stores.devices import Device
from protocol.e2e_keys import KeyUpload, check_key_upload
from protocol.errors import Forbidden, InvalidParam, MissingParam, NotFound
from protocol.sync_tokens import MAX_TOKEN_LENGTH, SyncToken, WriterPositions, parse_sync_token
from tasks import api as tasks_api
from web.accounts.effects import AfterCommit
from web.accounts.sessions import end_sessions
from web.auth import authenticate
from web.client.devices import MAX_DEVICE_ID_LENGTH, MAX_DISPLAY_NAME_LENGTH
from web.client.keys import publish_keys
from web.deps import Deps, deps
from web.requests import Body, json_body
from web.sync.response import TO_DEVICE, to_device_batch
from web.sync.rooms import Range

MSC3814_PREFIX = "/_matrix/client/unstable/org.matrix.msc3814.v1"
DEFAULT_DISPLAY_NAME = "Dehydrated device"


def _device_id(body: Body) -> str:
    device_id: str = body.text("device_id", max_length=MAX_DEVICE_ID_LENGTH)
    if not device_id:
        raise InvalidParam("'device_id' must not be empty")
    return device_id


def _uploaded_keys(body: Body, user_id: str, device_id: str) -> KeyUpload:
    """The device's keys; its identity keys are required (MSC3814: they are uploaded with the device)."""
    upload = check_key_upload(body.data, user_id, device_id)
    if upload.device_keys is None:
        raise MissingParam("Missing parameter: device_keys")
    return upload


def _drop(current: Deps, conn: Connection, effects: AfterCommit, user_id: str, device_id: str) -> WriterPositions:
    """Delete the dehydrated device (its row goes with its device); returns how far its inbox may be cleared."""
    end_sessions(current, conn, effects, user_id, [device_id])
    return WriterPositions.of_writers(current.stores.stream_ids.get_positions(conn, TO_DEVICE))


def _clear_inbox(current: Deps, user_id: str, device_id: str, up_to: WriterPositions) -> None:
    """After the commit: the device's to_device writer drops the messages that accumulated for it."""
    tasks_api.acknowledge_to_device(current.dispatcher, user_id=user_id, device_id=device_id, floor=up_to.floor,
                                    ahead=up_to.writers())


def put_dehydrated_device() -> dict[str, Any]:
    current = deps()
    user_id = authenticate(current).user_id
    body = json_body()
    device_id = _device_id(body)
    device_data = body.object("device_data")
    assert device_data is not None
    if not device_data.text("algorithm", max_length=MAX_DEVICE_ID_LENGTH):
        raise InvalidParam("'device_data.algorithm' must not be empty")
    display_name = body.text("initial_device_display_name", DEFAULT_DISPLAY_NAME, max_length=MAX_DISPLAY_NAME_LENGTH)
    keys = _uploaded_keys(body, user_id, device_id)
    effects = AfterCommit()
    with current.database.write() as conn:
        lock_dehydrated_device(conn, user_id)
        previous = current.stores.dehydrated_devices.get_dehydrated_device(conn, user_id)
        cleared = None if previous is None else _drop(current, conn, effects, user_id, previous.device_id)
        if current.stores.devices.get_device(conn, user_id, device_id) is not None:
            raise InvalidParam(f"Device id {device_id!r} is in use by another of your devices")
        now = current.clock.now_ms()
        current.stores.devices.insert_device(conn, Device(user_id, device_id, display_name, now, None, None))
        effects.device_changed(current, conn, user_id, device_id)
        publish_keys(current, conn, effects, user_id, device_id, keys)
        current.stores.dehydrated_devices.insert_dehydrated_device(
            conn, DehydratedDevice(user_id, device_id, device_data.data))
    effects.apply(current)
    if previous is not None and cleared is not None:
        _clear_inbox(current, user_id, previous.device_id, cleared)
    return {"device_id": device_id}


def get_dehydrated_device() -> dict[str, Any]:
    current = deps()
    user_id = authenticate(current).user_id
    with current.database.read() as conn:
        dehydrated = current.stores.dehydrated_devices.get_dehydrated_device(conn, user_id)
    if dehydrated is None:
        raise NotFound("No dehydrated device available")
    return {"device_id": dehydrated.device_id, "device_data": dehydrated.device_data}


def delete_dehydrated_device() -> dict[str, Any]:
    current = deps()
    user_id = authenticate(current).user_id
    effects = AfterCommit()
    with current.database.write() as conn:
        lock_dehydrated_device(conn, user_id)
        dehydrated = current.stores.dehydrated_devices.get_dehydrated_device(conn, user_id)
        if dehydrated is None:
            raise NotFound("No dehydrated device available")
        cleared = _drop(current, conn, effects, user_id, dehydrated.device_id)
    effects.apply(current)
    _clear_inbox(current, user_id, dehydrated.device_id, cleared)
    return {"device_id": dehydrated.device_id}


def get_dehydrated_device_events(device_id: str) -> dict[str, Any]:
    """One batch of the dehydrated device's to-device messages after ``next_batch``; a batch past the last
    message is empty and still carries a ``next_batch``."""
    current = deps()
    user_id = authenticate(current).user_id
    next_batch = json_body(optional=True).text("next_batch", None, max_length=MAX_TOKEN_LENGTH)
    since = None if next_batch is None else parse_sync_token(next_batch, name="next_batch").stream(TO_DEVICE)
    with current.database.read() as conn:
        dehydrated = current.stores.dehydrated_devices.get_dehydrated_device(conn, user_id)
        if dehydrated is None or dehydrated.device_id != device_id:
            raise Forbidden("You may only fetch messages for your dehydrated device")
        until = WriterPositions.of_writers(current.stores.stream_ids.get_positions(conn, TO_DEVICE))
        events, reached = to_device_batch(current, conn, user_id, device_id, Range(since, until))
    return {"events": events, "next_batch": SyncToken.of({TO_DEVICE: reached}).format()}


def register_routes(blueprint: Blueprint) -> None:
    # Unstable routes under the MSC's prefix only; a device id in a path is a curve25519 key in standard base64,
    # which may hold "/", so the events route takes the rest of the path up to "/events".
    for path, method, view in (("", "PUT", put_dehydrated_device), ("", "GET", get_dehydrated_device),
                               ("", "DELETE", delete_dehydrated_device),
                               ("/<path:device_id>/events", "POST", get_dehydrated_device_events)):
        blueprint.add_url_rule(f"{MSC3814_PREFIX}/dehydrated_device{path}", endpoint=view.__name__, view_func=view,
                               methods=[method])
