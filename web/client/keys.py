"""``POST /keys/upload`` and ``POST /keys/claim`` (Client-Server API, "End-to-End Encryption", "Key management
API"): a device publishes its identity, one-time and fallback keys; another device claims one of them to start an
Olm session.

Writes: key rows are not a stream, so the web tier writes them itself, in one transaction with the
``device_lists`` outbox row when the device's identity keys changed; the device-lists stream writer
(``tasks/device_lists.py``) then appends the change to the stream and rings the doorbell, exactly as for a new or
renamed device. Claims delete one-time keys (and mark fallback keys used) in their own transaction; nothing goes
on a stream, since the owner learns its counts from ``/sync``, but after the commit the doorbell rings for the
owner so that a ``/sync`` of theirs waiting right now wakes and reports the new counts (``web/client/sync.py``).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint
from sqlalchemy import Connection

from protocol.e2e_keys import MAX_ID_LENGTH, KeyUpload, check_key_upload, is_self_signed, signed_part
from protocol.errors import BadJson, InvalidParam
from protocol.identifiers import UserId
from web.accounts.effects import AfterCommit
from web.auth import authenticate
from web.client.remote_users import split_by_server
from web.deps import Deps, deps
from web.remote.keys import DEFAULT_TIMEOUT_MS, merge_remote_claims
from web.requests import Body, json_body
from web.routing import client_route

SIGNED_CURVE25519 = "signed_curve25519"

logger = logging.getLogger(__name__)


def _same_key(stored: Any, uploaded: Any) -> bool:
    """A one-time key uploaded again is the same key when all but its signatures match."""
    if isinstance(stored, dict) and isinstance(uploaded, dict):
        return signed_part(stored) == signed_part(uploaded)
    return bool(stored == uploaded)


def publish_keys(current: Deps, conn: Connection, effects: AfterCommit, user_id: str, device_id: str,
                 upload: KeyUpload) -> None:
    """Store what a device uploaded, in the caller's transaction, so ``/keys/query`` and ``/keys/claim`` see it.

    New or changed identity keys are announced on the device_lists stream; new one-time keys or a new fallback key
    ring the owner's ``/sync`` long-polls, whose key counts moved. ``POST /keys/upload`` and
    ``PUT /dehydrated_device`` (MSC3814) both publish through here.
    """
    stores, now = current.stores, current.clock.now_ms()
    if upload.device_keys is not None and stores.e2e_keys.upsert_device_keys(conn, user_id, device_id,
                                                                            upload.device_keys, now):
        effects.device_changed(current, conn, user_id, device_id)
    stored = stores.e2e_keys.get_one_time_keys(conn, user_id, device_id,
                                               [(key.algorithm, key.key_id) for key in upload.one_time_keys])
    fresh = []
    for key in upload.one_time_keys:
        existing = stored.get((key.algorithm, key.key_id))
        if existing is None:
            fresh.append((key.algorithm, key.key_id, key.value))
        elif not _same_key(existing, key.value):
            raise InvalidParam(f"One time key {key.algorithm}:{key.key_id} already exists with other content")
    stores.e2e_keys.insert_one_time_keys(conn, user_id, device_id, fresh, now)
    replaced = [stores.e2e_keys.upsert_fallback_key(conn, user_id, device_id, key.algorithm, key.key_id, key.value)
                for key in upload.fallback_keys]
    if fresh or any(replaced):
        effects.key_counts_changed(user_id)


def upload_keys() -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    user_id, device_id = requester.user_id, requester.device_id
    upload = check_key_upload(json_body().data, user_id, device_id)
    if upload.device_keys is not None and not is_self_signed(upload.device_keys, user_id, device_id):
        logger.warning("device keys of %s %s are not signed by the device's own key; stored as sent",
                       user_id, device_id)
    effects = AfterCommit()
    with current.database.write() as conn:
        publish_keys(current, conn, effects, user_id, device_id, upload)
        counts = current.stores.e2e_keys.count_one_time_keys(conn, user_id, device_id)
    effects.apply(current)
    # signed_curve25519 is always listed, as Synapse does: clients that read an absent count as "unknown" rather
    # than zero would otherwise never upload their first batch.
    return {"one_time_key_counts": {SIGNED_CURVE25519: 0, **counts}}


def parse_claims(body: Body) -> dict[str, dict[str, str]]:
    wanted = body.object("one_time_keys")
    assert wanted is not None
    claims: dict[str, dict[str, str]] = {}
    for user_id, by_device in wanted.data.items():
        try:
            UserId.parse(user_id)
        except ValueError:
            raise BadJson(f"'one_time_keys' must be keyed by user ids; {user_id!r} is not one") from None
        if not isinstance(by_device, dict) or not all(
                isinstance(algorithm, str) and 0 < len(algorithm) <= MAX_ID_LENGTH and "\x00" not in algorithm
                for algorithm in by_device.values()):
            raise BadJson(f"'one_time_keys.{user_id}' must map device ids to algorithm names")
        if any(len(device_id) > MAX_ID_LENGTH or "\x00" in device_id for device_id in by_device):
            raise BadJson(f"'one_time_keys.{user_id}' holds an invalid device id")
        claims[user_id] = by_device
    return claims


def claim_local_keys(current: Deps, local: dict[str, dict[str, str]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Claim one key per named device of local users: a one-time key, or the fallback key when none is left
    ("Claiming one-time keys"). Also answers other servers' ``/user/keys/claim``."""
    claimed: dict[str, dict[str, dict[str, Any]]] = {}
    effects = AfterCommit()
    with current.database.write() as conn:
        for user_id, by_device in local.items():
            for device_id, algorithm in sorted(by_device.items()):
                key = (current.stores.e2e_keys.claim_one_time_key(conn, user_id, device_id, algorithm)
                       or current.stores.e2e_keys.claim_fallback_key(conn, user_id, device_id, algorithm))
                if key is not None:
                    claimed.setdefault(user_id, {})[device_id] = {key.name: key.value}
                    effects.key_counts_changed(user_id)
    effects.apply(current)
    return claimed


def claim_keys() -> dict[str, Any]:
    current = deps()
    authenticate(current, allow_guest=True)
    body = json_body()
    timeout_ms = body.integer("timeout", DEFAULT_TIMEOUT_MS)
    local, remote = split_by_server(parse_claims(body), current.config.server_name)
    response: dict[str, Any] = {"one_time_keys": claim_local_keys(current, local), "failures": {}}
    merge_remote_claims(current, remote, response, timeout_ms)
    return response


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/keys/upload", methods=["POST"])(upload_keys)
    client_route(blueprint, "/keys/claim", methods=["POST"])(claim_keys)
