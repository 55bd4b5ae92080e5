"""Another server inviting one of our users (Server-Server API, "Inviting to a room", ``PUT /invite`` v1 and v2).

The inviting server built and signed the invite; we check it names one of our users and is signed by the
sender's server, add our signature, and keep it: as a regular event when we are in the room (the room's writer
checks it against the room), else as the invitee's membership in a room known only by the stripped state the
inviting server sent, which their ``/sync`` shows under ``invite``.
"""

from __future__ import annotations

import logging
from typing import Any

from protocol.errors import BadJson, Forbidden, NotFound
from protocol.events.model import Event
from protocol.events.signatures import add_event_signature
from protocol.federation.membership import IncompatibleRoomVersion, check_invite_pdu, require_content_hash
from protocol.room_versions import KNOWN_ROOM_VERSIONS
from tasks import api as tasks_api
from web.deps import Deps, deps
from web.federation.auth import server_authenticated
from web.federation.membership import forbidden_unless_signed, require_signatures, resident_room
from web.requests import json_body

logger = logging.getLogger(__name__)

V1_ROOM_VERSIONS = ("1", "2")
"""``/v1/invite`` carries no room version: it serves only rooms whose events it can read (spec: "v1 invite")."""


def _invite(current: Deps, room_id: str, event_id: str, origin: str, room_version: str, pdu: object,
            invite_room_state: list[dict[str, Any]]) -> dict[str, Any]:
    version = KNOWN_ROOM_VERSIONS.get(room_version)
    if version is None:
        raise IncompatibleRoomVersion(f"Room version {room_version!r} is not supported here",
                                      room_version=room_version)
    try:
        event = check_invite_pdu(pdu, version, room_id=room_id, event_id=event_id, origin=origin,
                                 server_name=current.config.server_name)
    except BadJson:
        forbidden_unless_signed(current, pdu, version)
        raise
    with current.database.read() as conn:
        resident = False
        if current.stores.rooms.get_room(conn, room_id) is not None:
            try:
                resident_room(current, conn, room_id, origin)  # a server the room's ACL denies: 403
                resident = True
            except NotFound:
                pass
    require_signatures(current, event)
    require_content_hash(event)
    signed = add_event_signature(event.pdu, version, current.config.server_name, current.signing_key)
    if resident:
        try:
            tasks_api.accept_remote_membership(current.dispatcher, room_id=room_id, pdu=signed)
        except Forbidden as exc:
            # Countersigning vouches only that the invitee's server saw the invite (spec: "Inviting to a room");
            # whether the room allows it is judged when it arrives as a PDU (``/send``), as Synapse does. Not
            # stored meanwhile: the invitee is not shown an invite the room's state refuses.
            logger.info("invite %s countersigned but not allowed by the room yet: %s", event.event_id, exc)
    else:
        tasks_api.store_outside_membership(current.dispatcher, room_id=room_id, room_version=room_version,
                                           pdu=signed, stripped_state=invite_room_state)
    return dict(Event(event.event_id, version, signed).pdu)


def _stripped(value: object) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise BadJson("invite_room_state must be a list of objects")
    return value


@server_authenticated
def invite_v1(room_id: str, event_id: str, *, origin: str) -> Any:
    """The body is the event; the room version is the one v1 rooms have."""
    body = json_body().data
    unsigned = body.get("unsigned")
    state = _stripped(unsigned.get("invite_room_state") if isinstance(unsigned, dict) else None)
    return [200, {"event": _invite(deps(), room_id, event_id, origin, V1_ROOM_VERSIONS[0], body, state)}]


@server_authenticated
def invite_v2(room_id: str, event_id: str, *, origin: str) -> Any:
    body = json_body()
    room_version = body.text("room_version", max_length=32)
    state = _stripped(body.data.get("invite_room_state"))
    event = body.data.get("event")
    if not isinstance(event, dict):
        raise BadJson("event must be an object")
    return {"event": _invite(deps(), room_id, event_id, origin, room_version, event, state)}
