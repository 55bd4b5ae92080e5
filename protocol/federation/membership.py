"""Membership handshakes between servers: the rules both ends apply, without I/O.

Spec: Server-Server API, "Joining Rooms", "Knocking upon a room", "Inviting to a room", "Leaving Rooms (Rejecting
Invites)". A joining server asks a resident server for a template (``make_join``), fills in and signs the event,
and hands it back (``send_join``); leave and knock follow the same two steps. This module holds what either side
checks: which room versions the asker speaks, whether an event handed over is the membership event it claims to
be (shape, sender, origin, ids, content hash), and what a resident's ``send_join`` answer must contain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from protocol.errors import BadJson, Forbidden, MatrixError
from protocol.events.hashing import content_hash_matches
from protocol.events.ids import is_valid_event_id
from protocol.events.model import Event
from protocol.federation.pdus import MalformedPdu, parse_pdu
from protocol.identifiers import UserId
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion

MEMBERSHIPS_BY_HANDSHAKE = {"join": "join", "leave": "leave", "knock": "knock"}
"""The membership each ``make_*``/``send_*`` pair produces."""

class IncompatibleRoomVersion(MatrixError):
    """The asking server does not support the room's version (spec: ``make_join`` 400)."""

    errcode = "M_INCOMPATIBLE_ROOM_VERSION"


class UnableToAuthoriseJoin(MatrixError):
    """A restricted room's conditions cannot be checked here (spec: ``make_join`` 400)."""

    errcode = "M_UNABLE_TO_AUTHORISE_JOIN"


class UnableToGrantJoin(MatrixError):
    """No user of this server can authorise the restricted join (spec: ``make_join`` 400)."""

    errcode = "M_UNABLE_TO_GRANT_JOIN"


def negotiate_version(room_version: str, supported: Sequence[str]) -> None:
    """Refuse a handshake with a server that does not list ``room_version`` among ``supported``.

    ``make_join`` without ``ver`` means the asker only knows version 1 (spec: "ver ... Defaults to [1]").
    """
    if room_version not in (supported or ["1"]):
        raise IncompatibleRoomVersion(f"Your homeserver does not support the features required to join this "
                                      f"room (version {room_version})", room_version=room_version)


def server_of(user_id: str) -> str:
    """The server name part of a user id; a malformed id has none (empty string)."""
    try:
        return UserId.parse(user_id).server_name
    except ValueError:
        return ""


def _parsed(pdu: object, room_version: RoomVersion) -> Event:
    """Check 1 on receipt of a PDU (its format in the room version), as a client-visible 400."""
    try:
        return parse_pdu(pdu, room_version)
    except MalformedPdu as exc:
        raise BadJson(f"The event is malformed: {exc}") from None


def check_membership_pdu(pdu: object, room_version: RoomVersion, *, room_id: str, event_id: str | None,
                         membership: str, origin: str) -> Event:
    """The membership event ``origin`` hands over for ``room_id``, once its shape says it is what it claims.

    The sender must be a user of ``origin`` acting on themselves (a server can only join, leave or knock its own
    users), and the event must be for this room and carry the id the request names. Signatures (keys) and then
    the content hash (:func:`require_content_hash`) are the caller's.
    """
    event = _parsed(pdu, room_version)
    if event.type != "m.room.member" or event.membership != membership:
        raise BadJson(f"The event is not an m.room.member event with membership {membership!r}")
    if event.room_id != room_id:
        raise BadJson("The event is not for this room")
    if event_id is not None and event.event_id != event_id:
        raise BadJson("The event id does not match the request")
    if not is_valid_event_id(event.event_id, room_version):
        raise BadJson("The event id is malformed")
    if event.state_key != event.sender:
        raise BadJson("The state_key must be the sender's user id")
    if server_of(event.sender) != origin:
        raise Forbidden(f"The sender is not a user of {origin}")
    return event


def require_content_hash(event: Event) -> None:
    """Check 3 on receipt, for an event handed over in a handshake (after its signatures, check 2): a redacted or
    altered membership is refused rather than stored redacted, since its sender is waiting to be told."""
    if not content_hash_matches(event.pdu):
        raise BadJson("The event's content hash does not match")


def check_invite_pdu(pdu: object, room_version: RoomVersion, *, room_id: str, event_id: str, origin: str,
                     server_name: str) -> Event:
    """An invite ``origin`` asks us to countersign (spec: "Inviting to a room"): sent by one of its users, for
    one of ours, for the room and id the request names (signatures, then the content hash, are the caller's)."""
    event = _parsed(pdu, room_version)
    if event.type != "m.room.member" or event.membership != "invite" or event.state_key is None:
        raise BadJson("The event is not an m.room.member invite")
    if event.room_id != room_id or event.event_id != event_id:
        raise BadJson("The event's room or id does not match the request")
    if server_of(event.sender) != origin:
        raise Forbidden(f"The sender is not a user of {origin}")
    if server_of(event.state_key) != server_name:
        raise Forbidden("The invited user is not a user of this server")
    return event


def parse_remote_events(items: object, room_version: RoomVersion, what: str) -> list[Event]:
    """A list of PDUs from a resident server (``state``, ``auth_chain``); anything malformed refuses the lot."""
    if not isinstance(items, list):
        raise BadJson(f"The resident server's {what} is not a list")
    parsed = []
    for item in items:
        if not isinstance(item, Mapping):
            raise BadJson(f"The resident server's {what} holds a non-object")
        try:
            parsed.append(Event.from_pdu(item, room_version))
        except (ValueError, TypeError):
            raise BadJson(f"The resident server's {what} holds an event without a valid id") from None
    return parsed


def room_version_of(answer: Mapping[str, Any]) -> RoomVersion:
    """The version a resident names in its ``make_*`` answer (v1 when it names none, as the spec's default)."""
    identifier = answer.get("room_version", "1")
    version = KNOWN_ROOM_VERSIONS.get(identifier) if isinstance(identifier, str) else None
    if version is None:
        raise IncompatibleRoomVersion(f"The room's version {identifier!r} is not supported here",
                                      room_version=str(identifier))
    return version
