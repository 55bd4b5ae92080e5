"""Server-side key backups (Client-Server API, "Server-side key backups"): the shape of one backed-up session key
and the spec's rule for which of two keys for the same session the server keeps. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from protocol.canonical_json import MAX_SAFE_INTEGER
from protocol.errors import BadJson, MissingParam


@dataclass(frozen=True)
class RoomKeyData:
    """``KeyBackupData``: one megolm session key as a client backed it up. ``session_data`` is opaque to us: the
    algorithm's object, or any JSON value, kept as sent as Synapse keeps it (SyTest backs up a string)."""

    first_message_index: int
    forwarded_count: int
    is_verified: bool
    session_data: Any

    def to_client(self) -> dict[str, Any]:
        return {"first_message_index": self.first_message_index, "forwarded_count": self.forwarded_count,
                "is_verified": self.is_verified, "session_data": self.session_data}


def parse_room_key(value: object, path: str) -> RoomKeyData:
    """A ``KeyBackupData`` object (all four fields are required), or the spec's error naming ``path``."""
    if not isinstance(value, dict):
        raise BadJson(f"'{path}' must be an object")
    for name in ("first_message_index", "forwarded_count", "is_verified", "session_data"):
        if value.get(name) is None:
            raise MissingParam(f"Missing parameter: {path}.{name}" if path else f"Missing parameter: {name}")
    prefix = f"{path}." if path else ""
    counters = [value["first_message_index"], value["forwarded_count"]]
    for name, counter in zip(("first_message_index", "forwarded_count"), counters, strict=True):
        if isinstance(counter, bool) or not isinstance(counter, int) or not 0 <= counter <= MAX_SAFE_INTEGER:
            raise BadJson(f"'{prefix}{name}' must be a non-negative integer")
    if not isinstance(value["is_verified"], bool):
        raise BadJson(f"'{prefix}is_verified' must be a boolean")
    return RoomKeyData(counters[0], counters[1], value["is_verified"], value["session_data"])


def replaces(new: RoomKeyData, existing: RoomKeyData | None) -> bool:
    """Whether an uploaded key takes the place of the stored one, by the spec's three rules in order: a verified
    key beats an unverified one, then the lower ``first_message_index`` wins (it decrypts more of the session),
    then the lower ``forwarded_count``. A key equal on all three keeps the stored one, so re-uploading a backup
    changes nothing (and leaves the etag alone)."""
    if existing is None:
        return True
    if new.is_verified != existing.is_verified:
        return new.is_verified
    if new.first_message_index != existing.first_message_index:
        return new.first_message_index < existing.first_message_index
    return new.forwarded_count < existing.forwarded_count
