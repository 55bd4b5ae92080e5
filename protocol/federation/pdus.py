"""The checks a server makes on a PDU it receives, before it looks at the room: format, hashes, signatures.

Layer: ``protocol`` (pure; key lookup is a port). Spec: Server-Server API, "Checks performed on receipt of a
PDU", steps 1-3: (1) the event is valid for its room version, else it is dropped; (2) it passes signature checks,
else it is dropped; (3) it passes hash checks, else it is *redacted* and processing goes on with the redacted
copy. Steps 4-6 (auth against auth events, the state before it, the current state) need the room's events and
run in the room's events writer (``tasks/federation/remote_events.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from protocol.canonical_json import check_canonical_json
from protocol.errors import MatrixError
from protocol.events.hashing import content_hash_matches
from protocol.events.ids import is_valid_event_id, is_valid_room_id
from protocol.events.limits import EventSizeError, check_size_limits
from protocol.events.model import Event
from protocol.events.signatures import verify_event_signature
from protocol.identifiers import is_valid_user_id
from protocol.redaction import redact_event
from protocol.room_versions import RoomIdFormat, RoomVersion
from protocol.signing import InvalidSignature, VerifyKey

MAX_PREV_EVENTS = 20
"""At most this many ``prev_events`` (spec: PDUs, ``prev_events``; Synapse enforces the same bound)."""
MAX_AUTH_EVENTS = 10
"""At most this many ``auth_events`` (the auth rules never need more: create, power levels, join rules, members)."""

KeyLookup = Callable[[str, str, int | None], VerifyKey | None]
"""``(server_name, key_id, at_ts) -> key``: a key of the server valid at ``at_ts`` (None: any time), or None."""


class MalformedPdu(ValueError):
    """The PDU is not a valid event of its room version: it is dropped, never stored (check 1)."""


@dataclass(frozen=True)
class CheckedPdu:
    """A PDU past checks 1-3: the event to go on with (redacted if its content hash did not match), and a
    rejection already decided by its format (a byte-length breach that old room versions keep as rejected)."""

    event: Event
    redacted: bool = False
    rejected_reason: str | None = None


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise MalformedPdu(message)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_references(pdu: Mapping[str, Any], key: str, room_version: RoomVersion, bound: int) -> None:
    references = pdu.get(key)
    _require(isinstance(references, list), f"'{key}' must be a list")
    assert isinstance(references, list)
    _require(len(references) <= bound, f"'{key}' lists more than {bound} events")
    for reference in references:
        if room_version.event_id_in_event:
            # v1/v2: [event_id, {"sha256": ...}] pairs.
            _require(isinstance(reference, list) and len(reference) == 2 and isinstance(reference[0], str)
                     and isinstance(reference[1], dict), f"'{key}' entries must be [event_id, hashes] pairs")
            event_id = reference[0]
        else:
            _require(isinstance(reference, str), f"'{key}' entries must be event ids")
            event_id = reference
        _require(is_valid_event_id(event_id, room_version), f"'{key}' holds an invalid event id")


def parse_pdu(pdu: object, room_version: RoomVersion) -> Event:
    """Check 1: ``pdu`` has every field its room version needs, of the right type and size; else MalformedPdu.

    Does not check hashes or signatures (:func:`check_pdu` does); the event id of a v3+ event is computed here.
    The event keeps no ``unsigned`` section.
    """
    _require(isinstance(pdu, dict), "a PDU must be a JSON object")
    assert isinstance(pdu, dict)
    if room_version.strict_canonical_json:
        try:
            check_canonical_json(pdu)
        except MatrixError as exc:
            raise MalformedPdu(exc.message) from None
    for key in ("type", "sender"):
        _require(isinstance(pdu.get(key), str), f"'{key}' must be a string")
    _require(is_valid_user_id(pdu["sender"]), "'sender' is not a user id")
    is_v12_create = (pdu["type"] == "m.room.create" and room_version.room_id_format is RoomIdFormat.CREATE_EVENT_HASH)
    if is_v12_create:
        _require("room_id" not in pdu, "a create event of this room version carries no room_id")
    else:
        room_id = pdu.get("room_id")
        _require(isinstance(room_id, str) and is_valid_room_id(room_id, room_version), "'room_id' is invalid")
    _require(_is_int(pdu.get("origin_server_ts")), "'origin_server_ts' must be an integer")
    depth = pdu.get("depth")
    _require(isinstance(depth, int) and not isinstance(depth, bool) and 0 <= depth <= room_version.max_depth,
             "'depth' must be a non-negative integer")
    _require(isinstance(pdu.get("content"), dict), "'content' must be an object")
    hashes = pdu.get("hashes")
    _require(isinstance(hashes, dict) and isinstance(hashes.get("sha256"), str), "'hashes.sha256' is missing")
    _require(isinstance(pdu.get("signatures"), dict), "'signatures' must be an object")
    if "state_key" in pdu:
        _require(isinstance(pdu["state_key"], str), "'state_key' must be a string")
    if "unsigned" in pdu:
        _require(isinstance(pdu["unsigned"], dict), "'unsigned' must be an object")
    _check_references(pdu, "prev_events", room_version, MAX_PREV_EVENTS)
    _check_references(pdu, "auth_events", room_version, MAX_AUTH_EVENTS)
    if room_version.event_id_in_event:
        event_id = pdu.get("event_id")
        _require(isinstance(event_id, str) and is_valid_event_id(event_id, room_version), "'event_id' is invalid")
    elif "event_id" in pdu:
        # Not part of the format from v3: the id is the reference hash, so a claimed one is dropped, not trusted.
        pdu = {key: value for key, value in pdu.items() if key != "event_id"}
    redacts = pdu.get("redacts")
    _require(redacts is None or isinstance(redacts, str), "'redacts' must be an event id")
    # ``unsigned`` is neither hashed nor signed: what the sender put there is not to be trusted or handed on.
    return Event.from_pdu({key: value for key, value in pdu.items() if key != "unsigned"}, room_version)


def required_signers(event: Event) -> set[str]:
    """The servers whose signatures an event must carry (spec: "Validating hashes and signatures on received
    events"): the sender's server; in v1/v2 the server named in the event id; for a restricted join, the server
    of the user in ``join_authorised_via_users_server`` (rooms/v8)."""
    signers = {event.sender.partition(":")[2]}
    if event.room_version.event_id_in_event:
        signers.add(event.event_id.partition(":")[2])
    authoriser = event.content.get("join_authorised_via_users_server")
    if (event.room_version.restricted_join_rule and event.membership == "join" and isinstance(authoriser, str)
            and is_valid_user_id(authoriser)):
        signers.add(authoriser.partition(":")[2])
    return signers


def check_signatures(event: Event, lookup: KeyLookup) -> None:
    """Check 2: raise InvalidSignature unless every required server signed ``event`` with a key it can prove.

    From room version 5 the key must have been valid when the event was sent (``enforce_key_validity``: its
    ``origin_server_ts``); before, any key the server ever published will do.
    """
    at_ts = event.origin_server_ts if event.room_version.enforce_key_validity else None
    signatures = event.pdu.get("signatures")
    for server_name in sorted(required_signers(event)):
        by_server = signatures.get(server_name) if isinstance(signatures, Mapping) else None
        if not isinstance(by_server, Mapping) or not by_server:
            raise InvalidSignature(f"the event is not signed by {server_name}")
        checked = False
        for key_id in sorted(key_id for key_id in by_server if key_id.startswith("ed25519:")):
            key = lookup(server_name, key_id, at_ts)
            if key is None:
                continue
            verify_event_signature(event.pdu, event.room_version, server_name, key)
            checked = True
            break
        if not checked:
            raise InvalidSignature(f"no usable key of {server_name} signed the event")


def check_pdu(pdu: object, room_version: RoomVersion, lookup: KeyLookup) -> CheckedPdu:
    """Checks 1-3 in order. Raises MalformedPdu (check 1) or InvalidSignature (check 2); a content hash that does
    not match redacts the event (check 3), which keeps its id: the reference hash covers only the redacted form."""
    event = parse_pdu(pdu, room_version)
    rejected_reason = None
    try:
        check_size_limits(event.pdu, room_version)
    except EventSizeError as exc:
        if exc.unpersistable:
            raise MalformedPdu(exc.message) from None
        rejected_reason = exc.message
    check_signatures(event, lookup)
    if content_hash_matches(event.pdu):
        return CheckedPdu(event, rejected_reason=rejected_reason)
    redacted = redact_event(event.pdu, room_version)
    return CheckedPdu(Event(event.event_id, room_version, redacted), redacted=True, rejected_reason=rejected_reason)
