"""Size limits on events (spec: Client-Server API, "Size limits"; Appendices, "Identifier Grammar").

The whole event may not exceed 65536 bytes of canonical JSON in federation format, signatures included, and
``sender``, ``room_id``, ``state_key``, ``type`` and ``event_id`` may not exceed 255 bytes each.

The field limits were long counted in codepoints rather than bytes by the most widespread server, so rooms of
versions 1-10 hold events that pass in codepoints but fail in bytes. As Synapse does, such an event in those
versions is kept but rejected (it is in the DAG, it just does not count), while anything over the limit in
codepoints, and any violation from room version 11 on (``strict_event_byte_limits``), is dropped outright.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from protocol.canonical_json import encode_canonical_json
from protocol.errors import TooLarge
from protocol.room_versions import RoomVersion

MAX_PDU_BYTES = 65536
MAX_FIELD_BYTES = 255
_LIMITED_FIELDS = ("sender", "room_id", "state_key", "type", "event_id")


class EventSizeError(TooLarge):
    """An event breaks a size limit. ``unpersistable`` says whether it must be dropped rather than stored as
    rejected; a client sending it gets 413 ``M_TOO_LARGE`` either way."""

    def __init__(self, message: str, *, unpersistable: bool) -> None:
        super().__init__(message)
        self.unpersistable = unpersistable


def check_size_limits(event: Mapping[str, Any], room_version: RoomVersion) -> None:
    """Raise :class:`EventSizeError` if ``event`` (a PDU, signatures included) breaks a size limit."""
    if len(encode_canonical_json(event)) > MAX_PDU_BYTES:
        raise EventSizeError(f"event is larger than {MAX_PDU_BYTES} bytes", unpersistable=True)
    for field in _LIMITED_FIELDS:
        value = event.get(field)
        if not isinstance(value, str):
            continue
        if len(value) > MAX_FIELD_BYTES:
            raise EventSizeError(f"'{field}' is longer than {MAX_FIELD_BYTES} characters", unpersistable=True)
        if len(value.encode("utf-8", "surrogatepass")) > MAX_FIELD_BYTES:
            raise EventSizeError(
                f"'{field}' is longer than {MAX_FIELD_BYTES} bytes", unpersistable=room_version.strict_event_byte_limits
            )
