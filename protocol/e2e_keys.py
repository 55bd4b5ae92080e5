"""End-to-end encryption key objects (Client-Server API, "End-to-End Encryption": "Device keys", "Key algorithms",
"Cross-signing"): their shape, the names they are filed under, and the signatures that bind them together.

Pure: the web tier reads and stores; these functions only judge the JSON a client sent, raising the spec's
errors (``M_BAD_JSON`` for a wrong shape, ``M_INVALID_SIGNATURE`` for a signature that does not verify).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protocol.errors import BadJson, BadSignature
from protocol.signing import InvalidSignature, decode_verify_key, verify_json

MAX_ID_LENGTH = 255
"""Device ids and key ids are at most this long, as device ids elsewhere."""
MASTER, SELF_SIGNING, USER_SIGNING = "master", "self_signing", "user_signing"
CROSS_SIGNING_KEY_TYPES = (MASTER, SELF_SIGNING, USER_SIGNING)
ED25519 = "ed25519"


@dataclass(frozen=True)
class UploadedKey:
    """One one-time or fallback key: ``<algorithm>:<key_id>`` and its value (a string or a signed object)."""

    algorithm: str
    key_id: str
    value: Any


@dataclass(frozen=True)
class KeyUpload:
    """What a device publishes at once: its identity keys (if sent), new one-time keys and fallback keys.

    ``POST /keys/upload`` carries it, and so does ``PUT /dehydrated_device`` (MSC3814: its three key fields "use the
    same structure as for the /keys/upload request"), so both are judged by :func:`check_key_upload`.
    """

    device_keys: dict[str, Any] | None
    one_time_keys: list[UploadedKey]
    fallback_keys: list[UploadedKey]


def signed_part(value: Mapping[str, Any]) -> dict[str, Any]:
    """What a signature covers: the object without ``signatures`` and ``unsigned`` (Appendices, "Signing JSON").
    Two uploads of one key that differ only there are the same key."""
    return {name: item for name, item in value.items() if name not in ("signatures", "unsigned")}


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or "\x00" in value:
        raise BadJson(f"'{field}' must be a string")
    return value


def split_key_name(name: str, field: str) -> tuple[str, str]:
    """``signed_curve25519:AAAAAQ`` -> ``("signed_curve25519", "AAAAAQ")``: exactly one colon, both parts set."""
    algorithm, colon, key_id = name.partition(":")
    if not colon or not algorithm or not key_id or ":" in key_id or len(name) > MAX_ID_LENGTH or "\x00" in name:
        raise BadJson(f"'{field}' must be keyed by '<algorithm>:<key_id>'; {name!r} is not")
    return algorithm, key_id


def check_signatures(value: Mapping[str, Any], field: str, *, required: bool) -> dict[str, dict[str, str]]:
    """``signatures``: user id -> key id -> signature, all strings."""
    signatures = value.get("signatures")
    if signatures is None and not required:
        return {}
    if not isinstance(signatures, dict) or not all(
        isinstance(by_key, dict) and all(isinstance(sig, str) for sig in by_key.values())
        for by_key in signatures.values()
    ):
        raise BadJson(f"'{field}.signatures' must map user ids to objects of key ids and signatures")
    return signatures


def check_device_keys(value: Any, user_id: str, device_id: str) -> dict[str, Any]:
    """A device's identity keys as uploaded: they must name the uploading user and device, list algorithms and
    keys, and carry well-formed signatures, so that every later read finds the shape the spec gives.

    Whether the device's own signature verifies is :func:`is_self_signed`'s question, not a reason to refuse:
    Synapse stores such keys (clients and SyTest upload placeholder signatures), and the devices that read them
    check the signature themselves before trusting the keys ("Device keys")."""
    if not isinstance(value, dict):
        raise BadJson("'device_keys' must be an object")
    if _text(value.get("user_id"), "device_keys.user_id") != user_id:
        raise BadJson("'device_keys.user_id' must be the uploading user")
    if _text(value.get("device_id"), "device_keys.device_id") != device_id:
        raise BadJson("'device_keys.device_id' must be the device the keys are uploaded for")
    algorithms = value.get("algorithms")
    if not isinstance(algorithms, list) or not all(isinstance(item, str) and "\x00" not in item
                                                   for item in algorithms):
        raise BadJson("'device_keys.algorithms' must be a list of strings")
    keys = value.get("keys")
    if not isinstance(keys, dict) or not all(isinstance(key, str) for key in keys.values()):
        raise BadJson("'device_keys.keys' must map key ids to strings")
    for name in keys:
        algorithm, colon, key_id = name.partition(":")
        if not (algorithm and colon and key_id):
            raise BadJson(f"'device_keys.keys' must be keyed by '<algorithm>:<device_id>'; {name!r} is not")
    check_signatures(value, "device_keys", required=True)
    return value


def is_self_signed(device_keys: Mapping[str, Any], user_id: str, device_id: str) -> bool:
    """Whether checked device keys are signed by the device's own ed25519 key (true when it has none to check)."""
    own_key = device_keys.get("keys", {}).get(f"{ED25519}:{device_id}")
    if own_key is None:
        return True
    try:
        verify_signature(device_keys, user_id, f"{ED25519}:{device_id}", own_key)
    except BadSignature:
        return False
    return True


def check_uploaded_keys(value: Any, field: str) -> list[UploadedKey]:
    """``one_time_keys`` or ``fallback_keys``: names ``<algorithm>:<key_id>``, values a key string or an object
    with ``key`` (and usually ``signatures``), as the key algorithms define them."""
    if not isinstance(value, dict):
        raise BadJson(f"'{field}' must be an object")
    found = []
    for name, key in value.items():
        algorithm, key_id = split_key_name(name, field)
        if isinstance(key, dict):
            _text(key.get("key"), f"{field}.{name}.key")
            check_signatures(key, f"{field}.{name}", required=False)
        elif not isinstance(key, str):
            raise BadJson(f"'{field}.{name}' must be a string or an object")
        found.append(UploadedKey(algorithm, key_id, key))
    return found


def check_key_upload(body: Mapping[str, Any], user_id: str, device_id: str) -> KeyUpload:
    """The key fields of an upload for ``device_id``, each optional; a fallback key per algorithm at most, since
    a new one replaces the old ("One-time and fallback keys")."""
    device_keys = body.get("device_keys")
    if device_keys is not None:
        device_keys = check_device_keys(device_keys, user_id, device_id)
    one_time_keys, fallback_keys = (
        [] if body.get(field) is None else check_uploaded_keys(body[field], field)
        for field in ("one_time_keys", "fallback_keys"))
    if len({key.algorithm for key in fallback_keys}) != len(fallback_keys):
        raise BadJson("'fallback_keys' holds at most one key per algorithm")
    return KeyUpload(device_keys, one_time_keys, fallback_keys)


def check_cross_signing_key(value: Any, user_id: str, key_type: str) -> str:
    """A cross-signing key object for ``key_type``; returns its unpadded-base64 ed25519 public key.

    "Cross-signing": the object names its user, lists its usage, and holds exactly one ed25519 key, filed under
    ``ed25519:<public key>``.
    """
    field = f"{key_type}_key"
    if not isinstance(value, dict):
        raise BadJson(f"'{field}' must be an object")
    if _text(value.get("user_id"), f"{field}.user_id") != user_id:
        raise BadJson(f"'{field}.user_id' must be the uploading user")
    usage = value.get("usage")
    if not isinstance(usage, list) or not all(isinstance(item, str) for item in usage) or key_type not in usage:
        raise BadJson(f"'{field}.usage' must be a list of strings including {key_type!r}")
    keys = value.get("keys")
    if not isinstance(keys, dict) or len(keys) != 1:
        raise BadJson(f"'{field}.keys' must hold exactly one key")
    ((key_id, public_key),) = keys.items()
    public_key = _text(public_key, f"{field}.keys")
    if key_id != f"{ED25519}:{public_key}":
        raise BadJson(f"'{field}.keys' must be filed as 'ed25519:<public key>'")
    try:
        decode_verify_key(key_id, public_key)
    except (ValueError, TypeError):
        raise BadJson(f"'{field}.keys' does not hold an ed25519 public key") from None
    check_signatures(value, field, required=False)
    return public_key


def verify_signature(value: Mapping[str, Any], signer: str, key_id: str, public_key: str) -> None:
    """Raise ``M_INVALID_SIGNATURE`` unless ``signer`` signed ``value`` with the ed25519 key ``public_key``."""
    try:
        verify_json(value, signer, decode_verify_key(key_id, public_key))
    except (InvalidSignature, ValueError, TypeError):
        raise BadSignature(f"Invalid signature by {signer} with {key_id}") from None
