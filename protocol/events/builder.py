"""Building a new local event: the PDU a server creates, hashes and signs (spec: Server-Server API, "PDUs").

The caller decides *what* (type, content, state key) and *where* (prev events, auth events); this module writes
it in the room version's format: v1/v2 carry a chosen ``event_id`` and reference other events as
``[event_id, hashes]`` pairs, later versions compute the id and list bare ids; v12 create events carry no room
id; redactions say what they redact at the top level before v11 and in ``content`` from v11.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from protocol.canonical_json import JsonDict
from protocol.events.hashing import with_content_hash
from protocol.events.ids import legacy_event_id, room_id_from_create_event
from protocol.events.limits import check_size_limits
from protocol.events.model import Event
from protocol.events.signatures import hash_and_sign_event
from protocol.redaction import kept_top_level_keys
from protocol.room_versions import RoomVersion
from protocol.signing import SigningKey


@dataclass(frozen=True)
class EventTemplate:
    """What a client (or room creation) asks for; everything else is the builder's."""

    type: str
    content: Mapping[str, Any] = field(default_factory=dict)
    state_key: str | None = None
    redacts: str | None = None


def _references(events: Sequence[Event], room_version: RoomVersion) -> list[Any]:
    if room_version.event_id_in_event:
        return [[event.event_id, dict(event.pdu.get("hashes") or {})] for event in events]
    return [event.event_id for event in events]


def build_event(
    room_version: RoomVersion,
    template: EventTemplate,
    *,
    room_id: str | None,
    sender: str,
    prev_events: Sequence[Event],
    auth_events: Sequence[Event],
    origin_server_ts: int,
    server_name: str,
    signing_key: SigningKey,
    opaque_id: str,
) -> Event:
    """A hashed and signed event. ``opaque_id`` names the event in v1/v2 and is ignored later.

    Every new event meets the size limits (spec: Client-Server API, "Size limits"): the signed PDU is what
    federation carries, so it is what is measured, and any breach, even one an older room version would keep as
    rejected, refuses the event with 413 ``M_TOO_LARGE`` before anything is stored.
    """
    pdu = draft_pdu(room_version, template, room_id=room_id, sender=sender, prev_events=prev_events,
                    auth_events=auth_events, origin_server_ts=origin_server_ts, server_name=server_name,
                    opaque_id=opaque_id)
    signed = hash_and_sign_event(pdu, room_version, server_name, signing_key)
    check_size_limits(signed, room_version)
    return Event.from_pdu(signed, room_version)


def v12_room_id(room_version: RoomVersion, create_content: Mapping[str, Any], *, sender: str,
                origin_server_ts: int, server_name: str) -> str:
    """The room id a create event will define, known before it is signed: signatures are not in the hash.

    Lets the web tier route a new v12 room to its events writer before the writer builds the create event.
    """
    pdu = draft_pdu(room_version, EventTemplate("m.room.create", create_content, state_key=""), room_id=None,
                    sender=sender, prev_events=(), auth_events=(), origin_server_ts=origin_server_ts,
                    server_name=server_name, opaque_id="unused")
    return room_id_from_create_event(with_content_hash(pdu), room_version)


def draft_pdu(
    room_version: RoomVersion,
    template: EventTemplate,
    *,
    room_id: str | None,
    sender: str,
    prev_events: Sequence[Event],
    auth_events: Sequence[Event],
    origin_server_ts: int,
    server_name: str,
    opaque_id: str,
) -> JsonDict:
    """The unsigned PDU. Depth is one more than the deepest prev event, capped (spec: rooms "Depth")."""
    depth = min(max((event.depth for event in prev_events), default=0) + 1, room_version.max_depth)
    content = dict(template.content)
    pdu: JsonDict = {
        "type": template.type,
        "sender": sender,
        "content": content,
        "origin_server_ts": origin_server_ts,
        "depth": depth,
        "prev_events": _references(prev_events, room_version),
        "auth_events": _references(auth_events, room_version),
    }
    if room_id is not None:
        pdu["room_id"] = room_id
    if template.state_key is not None:
        pdu["state_key"] = template.state_key
    if template.redacts is not None:
        if room_version.redacts_in_content:
            content["redacts"] = template.redacts
        else:
            pdu["redacts"] = template.redacts
    if "origin" in kept_top_level_keys(room_version):
        pdu["origin"] = server_name
    if room_version.event_id_in_event:
        pdu["event_id"] = legacy_event_id(opaque_id, server_name)
    return pdu
