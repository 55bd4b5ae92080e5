"""``POST /keys/device_signing/upload`` and ``POST /keys/signatures/upload`` (Client-Server API, "End-to-End
Encryption", "Cross-signing").

Writes follow ``web/client/keys.py``: key and signature rows are written here, in one transaction with the
``device_lists`` outbox rows that make everyone who tracks the user fetch their keys again; the device-lists
stream writer turns those into stream rows. A key's row names its type and holds its public key in place of a
device id (a device whose signatures changed has an ordinary device row): ``/sync`` and ``/keys/changes`` only
learn *whose* list changed from them, a federation sender also which EDU to send.

A signature of another user's master key is only ever shown to its signer; it is announced as a change of that
user's list, so the signer's devices (who share a room with them) fetch the user's keys and find it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from persistence.stores.cross_signing import CrossSigningKey, KeySignature
from protocol.e2e_keys import (
    CROSS_SIGNING_KEY_TYPES,
    MASTER,
    SELF_SIGNING,
    USER_SIGNING,
    check_cross_signing_key,
    check_signatures,
    signed_part,
    verify_signature,
)
from protocol.errors import BadJson, BadSignature, Forbidden, MatrixError, MissingParam, NotFound, UnknownError
from protocol.identifiers import UserId
from web.accounts.effects import AfterCommit
from web.accounts.ui_auth import PASSWORD, check_ui_auth, finish_ui_auth
from web.auth import authenticate
from web.deps import Deps, deps
from web.requests import json_body
from web.routing import CLIENT_VERSIONS, client_route

OPERATION = "POST /keys/device_signing/upload"


def upload_cross_signing_keys() -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    body = json_body()
    user_id = requester.user_id
    uploaded = {
        key_type: CrossSigningKey(key_type, check_cross_signing_key(value, user_id, key_type), value)
        for key_type in CROSS_SIGNING_KEY_TYPES
        if (value := body.data.get(f"{key_type}_key")) is not None
    }
    with current.database.read() as conn:
        existing = current.stores.cross_signing.list_keys(conn, [user_id]).get(user_id, {})
        device_ids = {device.device_id for device in current.stores.devices.list_devices(conn, user_id)}
    changed = {key_type: key for key_type, key in uploaded.items()
               if key_type not in existing or existing[key_type].key != key.key}
    if not changed:
        return {}  # the same keys again: idempotent, and no UIA (spec: the request contains no new keys)
    master = uploaded.get(MASTER) or existing.get(MASTER)
    if master is None:
        raise MissingParam("No master signing key is available")
    for key in changed.values():
        if key.public_key in device_ids:
            raise Forbidden("Key ID in use")
        if key.key_type != MASTER:
            # Self-signing and user-signing keys are signed by the master key ("Cross-signing").
            verify_signature(key.key, user_id, master.key_id, master.public_key)
    # UIA is required to replace keys, not to set them up: the first master key needs none.
    authorised = None
    if MASTER in existing:
        authorised = check_ui_auth(current, body, operation=OPERATION, flows=[[PASSWORD]], user_id=user_id)
    effects = AfterCommit()
    with current.database.write() as conn:
        for key in changed.values():
            current.stores.cross_signing.upsert_key(conn, user_id, key, current.clock.now_ms())
            effects.cross_signing_key_changed(current, conn, user_id, key.key_type, key.public_key)
        if authorised is not None:
            finish_ui_auth(current, conn, authorised)
    effects.apply(current)
    return {}


def _signed_by(signed: dict[str, Any], signer: str, key_id: str) -> str:
    signatures = check_signatures(signed, key_id, required=True)
    signature = signatures.get(signer, {}).get(key_id)
    if signature is None:
        raise BadSignature(f"Missing signature by {signer} with {key_id}")
    return signature


def _same_key(signed: dict[str, Any], stored: dict[str, Any]) -> None:
    if signed_part(signed) != signed_part(stored):
        raise UnknownError("Key does not match")


def _own_signatures(current: Deps, conn: Any, user_id: str, target: str, signed: dict[str, Any],
                    keys: dict[str, CrossSigningKey]) -> list[KeySignature]:
    """Signatures on the user's own keys: a device signed by the self-signing key, or the master key signed by
    the user's devices."""
    stores = current.stores
    master = keys.get(MASTER)
    if master is not None and target == master.public_key:
        _same_key(signed, master.key)
        signatures = check_signatures(signed, target, required=True).get(user_id, {})
        found = []
        for key_id, signature in signatures.items():
            if key_id == master.key_id:
                continue  # the master key's own signature, already part of it
            device_keys = stores.e2e_keys.get_device_keys(conn, user_id, key_id.partition(":")[2])
            public_key = (device_keys or {}).get("keys", {}).get(key_id)
            if not isinstance(public_key, str):
                raise BadSignature(f"No device key {key_id} to check the signature with")
            verify_signature(signed, user_id, key_id, public_key)
            found.append(KeySignature(user_id, key_id, user_id, target, signature))
        if not found:
            raise BadSignature("No device signature on the master key")
        return found
    self_signing = keys.get(SELF_SIGNING)
    if self_signing is None:
        raise MissingParam("No self-signing key is available")
    stored = stores.e2e_keys.get_device_keys(conn, user_id, target)
    if stored is None:
        raise NotFound("Unknown device")
    signature = _signed_by(signed, user_id, self_signing.key_id)
    _same_key(signed, stored)
    verify_signature(signed, user_id, self_signing.key_id, self_signing.public_key)
    return [KeySignature(user_id, self_signing.key_id, user_id, target, signature)]


def _other_signature(user_signing: CrossSigningKey | None, signer: str, target_master: CrossSigningKey | None,
                     target_user: str, target: str, signed: dict[str, Any]) -> KeySignature:
    """Another user's master key, signed by the signer's user-signing key."""
    if user_signing is None:
        raise MissingParam("No user-signing key is available")
    if target_master is None or target != target_master.public_key:
        raise NotFound("Unknown master key")
    signature = _signed_by(signed, signer, user_signing.key_id)
    _same_key(signed, target_master.key)
    verify_signature(signed, signer, user_signing.key_id, user_signing.public_key)
    return KeySignature(signer, user_signing.key_id, target_user, target, signature)


def _signed_objects(data: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    for user_id, by_key in data.items():
        try:
            UserId.parse(user_id)
        except ValueError:
            raise BadJson(f"The body must be keyed by user ids; {user_id!r} is not one") from None
        if not isinstance(by_key, dict) or not all(isinstance(signed, dict) for signed in by_key.values()):
            raise BadJson(f"'{user_id}' must map key ids to signed key objects")
    return data


def upload_signatures() -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    signer = requester.user_id
    uploads = _signed_objects(json_body().data)
    failures: dict[str, dict[str, Any]] = {}
    stored: list[KeySignature] = []
    effects = AfterCommit()
    with current.database.write() as conn:
        keys = current.stores.cross_signing.list_keys(conn, uploads.keys() | {signer})
        own = keys.get(signer, {})
        for user_id, by_key in sorted(uploads.items()):
            for target, signed in sorted(by_key.items()):
                try:
                    if user_id == signer:
                        found = _own_signatures(current, conn, signer, target, signed, own)
                    else:
                        found = [_other_signature(own.get(USER_SIGNING), signer, keys.get(user_id, {}).get(MASTER),
                                                  user_id, target, signed)]
                except MatrixError as error:
                    failures.setdefault(user_id, {})[target] = error.to_dict()
                    continue
                stored.extend(found)
                master = keys.get(user_id, {}).get(MASTER)
                if master is not None and target == master.public_key:
                    effects.cross_signing_key_changed(current, conn, user_id, MASTER, target)
                else:
                    effects.device_changed(current, conn, user_id, target)
        current.stores.cross_signing.upsert_signatures(conn, stored)
    effects.apply(current)
    return {"failures": failures}


def register_routes(blueprint: Blueprint) -> None:
    # The unstable prefix is where cross-signing began (MSC1756); Synapse still serves both there, SyTest uses it.
    client_route(blueprint, "/keys/device_signing/upload", methods=["POST"],
                 versions=(*CLIENT_VERSIONS, "unstable"))(upload_cross_signing_keys)
    client_route(blueprint, "/keys/signatures/upload", methods=["POST"],
                 versions=(*CLIENT_VERSIONS, "unstable"))(upload_signatures)
