"""Remote device lists as the Server-Server API describes them ("Device Management"): the answer of
``GET /user/devices/{userId}`` and the ``m.device_list_update`` and ``m.signing_key_update`` EDUs, checked so that
nothing about another user, or a device key naming another device, is ever stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from protocol.identifiers import UserId

CROSS_SIGNING_FIELDS = {"master_key": "master", "self_signing_key": "self_signing"}
"""Field of a /user/devices answer or m.signing_key_update -> the key's usage (a user-signing key is never
shared with other servers)."""
MAX_DEVICES = 10_000
"""A resync listing more devices than this is refused: no real user has them, and each becomes a row."""


class BadDeviceList(ValueError):
    """An answer or EDU that does not describe the user's devices as the spec says."""


@dataclass(frozen=True)
class DeviceEntry:
    device_id: str
    display_name: str | None
    keys: dict[str, Any] | None


@dataclass(frozen=True)
class DeviceListUpdate:
    user_id: str
    device_id: str
    stream_id: int
    prev_ids: tuple[int, ...]
    deleted: bool
    display_name: str | None
    keys: dict[str, Any] | None


@dataclass(frozen=True)
class UserDevices:
    stream_id: int
    devices: tuple[DeviceEntry, ...]
    cross_signing: dict[str, dict[str, Any]]


def server_of(user_id: object) -> str:
    if not isinstance(user_id, str):
        raise BadDeviceList(f"{user_id!r} is not a user id")
    try:
        return UserId.parse(user_id).server_name
    except ValueError:
        raise BadDeviceList(f"{user_id!r} is not a user id") from None


def _integer(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadDeviceList(f"{name} must be an integer")
    return value


def _holds_nothing(keys: object) -> bool:
    """Whether ``keys`` is an object that carries no key material at all: ``{}``, or one whose every member is
    empty (SyTest's servers send ``{"device_keys": {}}``). Such keys name no device and no key, so there is
    nothing to check or store: they mean "no keys", as an absent field does (Synapse serves only non-empty
    keys)."""
    return isinstance(keys, dict) and not any(keys.values())


def device_keys_of(user_id: str, device_id: str, keys: object) -> dict[str, Any] | None:
    """The keys of a device as stored and served (None: no keys); raises BadDeviceList for keys that name
    another user or device, so a server cannot pass one device's keys off as another's."""
    if keys is None or _holds_nothing(keys):
        return None
    if not isinstance(keys, dict) or keys.get("user_id") != user_id or keys.get("device_id") != device_id:
        raise BadDeviceList(f"the keys of device {device_id!r} do not name it")
    return keys


def cross_signing_key_of(user_id: str, key: object) -> dict[str, Any]:
    if not isinstance(key, dict) or key.get("user_id") != user_id or not isinstance(key.get("keys"), dict) \
            or not key["keys"]:
        raise BadDeviceList("a cross-signing key must be the user's and hold a key")
    return key


def _cross_signing(user_id: str, body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {usage: cross_signing_key_of(user_id, body[field])
            for field, usage in CROSS_SIGNING_FIELDS.items() if body.get(field) is not None}


def _resynced_keys(user_id: str, device_id: str, keys: object) -> dict[str, Any] | None:
    """A listed device's keys, or None when they do not name it: the device is still listed (it exists), but
    keys no client could use are not kept, and one such device does not cost the user's whole list."""
    try:
        return device_keys_of(user_id, device_id, keys)
    except BadDeviceList:
        return None


def parse_user_devices(user_id: str, answer: object) -> UserDevices:
    if not isinstance(answer, dict) or answer.get("user_id") != user_id:
        raise BadDeviceList("the answer is not about the user asked for")
    devices = answer.get("devices")
    if not isinstance(devices, list) or len(devices) > MAX_DEVICES:
        raise BadDeviceList(f"devices must be a list of at most {MAX_DEVICES}")
    parsed = []
    for device in devices:
        device_id = device.get("device_id") if isinstance(device, dict) else None
        if not isinstance(device_id, str) or not device_id:
            raise BadDeviceList("a device without a device_id")
        name = device.get("device_display_name")
        parsed.append(DeviceEntry(device_id, name if isinstance(name, str) else None,
                                  _resynced_keys(user_id, device_id, device.get("keys"))))
    return UserDevices(_integer(answer.get("stream_id"), "stream_id"), tuple(parsed), _cross_signing(user_id, answer))


def parse_device_list_update(origin: str, content: dict[str, Any]) -> DeviceListUpdate:
    """Raises BadDeviceList, also when the user is not ``origin``'s (a server speaks for its own users only)."""
    user_id = content.get("user_id")
    if server_of(user_id) != origin:
        raise BadDeviceList(f"{user_id} is not a user of {origin}")
    assert isinstance(user_id, str)
    device_id = content.get("device_id")
    if not isinstance(device_id, str) or not device_id:
        raise BadDeviceList("device_id must be a string")
    prev_ids = content.get("prev_id", [])
    if not isinstance(prev_ids, list):
        raise BadDeviceList("prev_id must be a list")
    name = content.get("device_display_name")
    deleted = content.get("deleted") is True
    return DeviceListUpdate(user_id, device_id, _integer(content.get("stream_id"), "stream_id"),
                            tuple(_integer(prev, "prev_id") for prev in prev_ids), deleted,
                            name if isinstance(name, str) else None,
                            None if deleted else device_keys_of(user_id, device_id, content.get("keys")))


def parse_signing_key_update(origin: str, content: dict[str, Any]) -> tuple[str, dict[str, dict[str, Any]]]:
    """The user and their new cross-signing keys by usage; raises BadDeviceList."""
    user_id = content.get("user_id")
    if server_of(user_id) != origin:
        raise BadDeviceList(f"{user_id} is not a user of {origin}")
    assert isinstance(user_id, str)
    keys = _cross_signing(user_id, content)
    if not keys:
        raise BadDeviceList("no cross-signing key in the update")
    return user_id, keys
