"""Event ids and room ids, per room version.

- v1, v2: ``$opaque_id:domain``, chosen by the server that creates the event and sent in the event
  (spec: rooms/v1 "Event IDs");
- v3: ``$`` + unpadded Base64 of the reference hash (spec: rooms/v3 "Event IDs");
- v4 onwards: ``$`` + URL-safe unpadded Base64 of the reference hash (spec: rooms/v4 "Event IDs");
- v12 room ids: the create event's id with ``!`` for ``$`` (spec: rooms/v12 "Event format"; Appendices "Room IDs").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from unpaddedbase64 import encode_base64

from protocol.events.hashing import compute_reference_hash
from protocol.identifiers import is_valid_server_name
from protocol.room_versions import EventIdFormat, RoomIdFormat, RoomVersion

# Spec: Appendices, "Event IDs" and "Room IDs": including sigil and domain, at most 255 bytes.
MAX_ID_BYTES = 255
# A SHA-256 digest is 32 bytes: 43 characters of unpadded Base64.
_HASH_ID = re.compile(r"[A-Za-z0-9+/]{43}")
_URL_SAFE_HASH_ID = re.compile(r"[A-Za-z0-9\-_]{43}")


def compute_event_id(event: Mapping[str, Any], room_version: RoomVersion) -> str:
    """The event id a v3+ event has by construction: ``$`` + the Base64 of its reference hash."""
    if room_version.event_id_format is EventIdFormat.SERVER_GENERATED:
        raise ValueError(f"event ids in room version {room_version.identifier} are chosen, not computed")
    url_safe = room_version.event_id_format is EventIdFormat.URL_SAFE_REFERENCE_HASH
    return "$" + encode_base64(compute_reference_hash(event, room_version), urlsafe=url_safe)


def event_id_of(event: Mapping[str, Any], room_version: RoomVersion) -> str:
    """The id of ``event``: its ``event_id`` field in v1/v2, its computed reference hash id from v3."""
    if room_version.event_id_in_event:
        event_id = event.get("event_id")
        if not isinstance(event_id, str):
            raise ValueError(f"room version {room_version.identifier} events must carry an event_id")
        return event_id
    return compute_event_id(event, room_version)


def legacy_event_id(opaque_id: str, server_name: str) -> str:
    """A v1/v2 event id, ``$opaque_id:server_name``, for an event created by ``server_name``.

    The caller supplies a locally unique ``opaque_id`` (random, or from a counter), keeping this module pure.
    """
    if not opaque_id or ":" in opaque_id:
        raise ValueError(f"not an opaque id: {opaque_id!r}")
    return f"${opaque_id}:{server_name}"


def legacy_room_id(opaque_id: str, server_name: str) -> str:
    """A v1-v11 room id, ``!opaque_id:server_name``; the spec asks for an alphanumeric ``opaque_id``."""
    if not opaque_id or ":" in opaque_id:
        raise ValueError(f"not an opaque id: {opaque_id!r}")
    return f"!{opaque_id}:{server_name}"


def room_id_from_create_event(create_event: Mapping[str, Any], room_version: RoomVersion) -> str:
    """The v12 room id a create event defines: its event id with the sigil ``!`` instead of ``$``.

    The create event itself carries no ``room_id`` (spec: rooms/v12 auth rule 1.2); passing one in yields an id
    the auth rules will reject, so it is refused here.
    """
    if room_version.room_id_format is not RoomIdFormat.CREATE_EVENT_HASH:
        raise ValueError(f"room ids in room version {room_version.identifier} are chosen, not computed")
    if create_event.get("type") != "m.room.create" or "state_key" not in create_event:
        raise ValueError("not an m.room.create event")
    if "room_id" in create_event:
        raise ValueError(f"create events in room version {room_version.identifier} carry no room_id")
    return "!" + compute_event_id(create_event, room_version)[1:]


def create_event_id_from_room_id(room_id: str, room_version: RoomVersion) -> str:
    """The id of the create event that a v12 room id names (spec: rooms/v12 auth rule 2)."""
    if room_version.room_id_format is not RoomIdFormat.CREATE_EVENT_HASH:
        raise ValueError(f"room ids in room version {room_version.identifier} do not name their create event")
    if not room_id.startswith("!"):
        raise ValueError(f"not a room id: {room_id!r}")
    return "$" + room_id[1:]


def is_valid_event_id(event_id: str, room_version: RoomVersion) -> bool:
    """Whether ``event_id`` has the shape event ids take in ``room_version``."""
    if len(event_id.encode()) > MAX_ID_BYTES or not event_id.startswith("$"):
        return False
    body = event_id[1:]
    if room_version.event_id_format is EventIdFormat.REFERENCE_HASH:
        return bool(_HASH_ID.fullmatch(body))
    if room_version.event_id_format is EventIdFormat.URL_SAFE_REFERENCE_HASH:
        return bool(_URL_SAFE_HASH_ID.fullmatch(body))
    opaque_id, colon, server_name = body.partition(":")
    return bool(opaque_id and colon and "\x00" not in opaque_id) and is_valid_server_name(server_name)


def is_valid_room_id(room_id: str, room_version: RoomVersion) -> bool:
    """Whether ``room_id`` has the shape room ids take in ``room_version`` (spec: Appendices, "Room IDs")."""
    if len(room_id.encode()) > MAX_ID_BYTES or not room_id.startswith("!"):
        return False
    body = room_id[1:]
    if room_version.room_id_format is RoomIdFormat.CREATE_EVENT_HASH:
        return bool(_URL_SAFE_HASH_ID.fullmatch(body))
    opaque_id, colon, server_name = body.partition(":")
    return bool(opaque_id and colon and "\x00" not in opaque_id) and is_valid_server_name(server_name)
