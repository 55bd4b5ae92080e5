"""Our users in rooms this server is not in, and users of other servers invited to ours.

Spec: Server-Server API, "Joining Rooms", "Knocking upon a room", "Leaving Rooms (Rejecting Invites)" and
"Inviting to a room", seen from the server whose user acts. The handshake is a request and its answer, so the
web process runs it while the client waits (as Synapse's client workers do): ``make_*`` on a resident server
(the hinted ``server_name``/``via`` servers, then the inviter's, then the room id's), fill in and sign the
template, ``send_*`` it back. What comes back is checked here, where the key cache is (every signature, every
content hash), and stored by the room's events writer (``tasks/federation/membership.py``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection

from federation_client.client import path_segment
from federation_client.errors import FederationError, RemoteError
from protocol.auth import CREATE_KEY
from protocol.canonical_json import JsonDict
from protocol.errors import BadJson, MatrixError, NotFound
from protocol.events.hashing import content_hash_matches
from protocol.events.ids import legacy_event_id
from protocol.events.model import Event
from protocol.events.signatures import hash_and_sign_event, verify_event_signature
from protocol.federation.membership import parse_remote_events, room_version_of, server_of
from protocol.federation.pdus import KeyLookup, MalformedPdu, check_pdu, parse_pdu
from protocol.redaction import kept_top_level_keys
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from protocol.signing import InvalidSignature
from tasks import api as tasks_api
from web.deps import Deps
from web.federation.membership import membership_template, require_signatures, stripped_room_state
from web.federation.pdu_batches import key_lookup

SUPPORTED_VERSIONS = list(KNOWN_ROOM_VERSIONS)
SEND_PATHS = {"join": "/_matrix/federation/v2/send_join", "leave": "/_matrix/federation/v2/send_leave",
              "knock": "/_matrix/federation/v1/send_knock"}
V1_INVITE_VERSIONS = ("1", "2")
"""Rooms whose invites a server that only knows ``/v1/invite`` can read (it carries no room version)."""
V1_FALLBACK = {"join": "/_matrix/federation/v1/send_join", "leave": "/_matrix/federation/v1/send_leave"}
"""Where to send when a resident does not know the v2 endpoint (v1 answers ``[200, body]``)."""


class ResidentUnreachable(MatrixError):
    """No server of the room could be reached to complete the handshake."""

    status = 502


def is_resident(current: Deps, conn: Connection, room_id: str) -> bool:
    """Whether this server takes part in the room itself: one of our users is joined, or we created it (a room
    of ours everyone left is still ours to judge). Otherwise a membership change goes through a resident."""
    ours = current.config.server_name
    if any(server_of(user) == ours for user in current.stores.state.list_members(conn, room_id, "join")):
        return True
    create_id = current.stores.state.get_current_state_event_id(conn, room_id, CREATE_KEY)
    create = current.stores.events.get_event(conn, create_id) if create_id else None
    return create is not None and server_of(create.event.sender) == ours


def candidate_servers(current: Deps, conn: Connection, room_id: str, user_id: str,
                      hinted: Iterable[str]) -> list[str]:
    """Servers to ask, in order: those the client named, whoever invited (or let knock) the user, the room
    id's server (v1-v11 room ids name the creating server). Never ourselves."""
    servers = list(hinted)
    member_id = current.stores.state.get_current_state_event_id(conn, room_id, ("m.room.member", user_id))
    member = current.stores.events.get_event(conn, member_id) if member_id else None
    if member is not None:
        servers.append(server_of(member.event.sender))
    servers.append(room_id.partition(":")[2])
    ours = current.config.server_name
    return [server for server in dict.fromkeys(servers) if server and server != ours]


def _fill(current: Deps, template: object, version: RoomVersion, room_id: str, user_id: str, membership: str,
          content: Mapping[str, Any]) -> JsonDict:
    """Our membership event from a resident's template: its DAG position and auth events, our content, time,
    origin and (v1/v2) event id, hashed and signed by us."""
    if not isinstance(template, Mapping) or template.get("type") != "m.room.member" \
            or template.get("state_key") != user_id or template.get("sender") != user_id \
            or template.get("room_id") != room_id:
        raise BadJson("The resident server answered with a template for another event")
    given = template.get("content")
    kept = {key: value for key, value in (given.items() if isinstance(given, Mapping) else ())
            if key == "join_authorised_via_users_server"}
    pdu: JsonDict = {key: value for key, value in template.items() if key not in ("hashes", "signatures",
                                                                                   "unsigned")}
    pdu["content"] = {**content, **kept, "membership": membership}
    pdu["origin_server_ts"] = current.clock.now_ms()
    ours = current.config.server_name
    if "origin" in kept_top_level_keys(version):
        pdu["origin"] = ours
    if version.event_id_in_event:
        pdu["event_id"] = legacy_event_id(secrets.token_hex(9), ours)
    return hash_and_sign_event(pdu, version, ours, current.signing_key)


def _handshake(current: Deps, membership: str, room_id: str, user_id: str, servers: list[str],
               content: Mapping[str, Any]) -> tuple[str, RoomVersion, Event, Any]:
    """``make_*`` then ``send_*`` on the first server that completes both; the error of the last one tried."""
    if not servers:
        raise NotFound("No server of this room is known to ask")
    client = current.federation.client
    room, user = path_segment(room_id), path_segment(user_id)
    last: Exception | None = None
    for server in servers:
        try:
            made = client.get_json(server, f"/_matrix/federation/v1/make_{membership}/{room}/{user}",
                                   {"ver": SUPPORTED_VERSIONS} if membership != "leave" else None)
            if not isinstance(made, Mapping):
                raise BadJson("make_membership answered no object")
            version = room_version_of(made)
            event = Event.from_pdu(_fill(current, made.get("event"), version, room_id, user_id, membership,
                                         content), version)
            return server, version, event, _send(current, server, membership, event)
        except (FederationError, BadJson) as exc:
            last = exc
    raise _client_error(last)


def _send(current: Deps, server: str, membership: str, event: Event) -> Any:
    client = current.federation.client
    where = f"/{path_segment(event.room_id)}/{path_segment(event.event_id)}"
    try:
        return client.put_json(server, SEND_PATHS[membership] + where, dict(event.pdu))
    except RemoteError as exc:
        if exc.status != 404 or membership not in V1_FALLBACK:
            raise
    answer = client.put_json(server, V1_FALLBACK[membership] + where, dict(event.pdu))
    if not (isinstance(answer, list) and len(answer) == 2):
        raise BadJson("send_membership v1 answered no [status, body] pair")
    return answer[1]


def _client_error(error: Exception | None) -> MatrixError:
    """A resident's own 4xx Matrix error goes to the client as it was (403 for a refused join...); anything
    else says no server could complete it."""
    if isinstance(error, RemoteError) and 400 <= error.status < 500 and isinstance(error.body, dict) \
            and isinstance(error.body.get("errcode"), str):
        return MatrixError.from_wire({"errcode": error.body["errcode"], "status": error.status, "body": error.body})
    if isinstance(error, MatrixError):
        return error
    return ResidentUnreachable(f"No server of the room could complete the request: {error}")


def _checked(current: Deps, events: list[Event], version: RoomVersion) -> list[dict[str, Any]]:
    """Events from a resident past checks 1-3 on receipt: one with a wrong content hash is kept redacted, one
    malformed or without its signatures is dropped (spec: "Validating hashes and signatures on received
    events"; the writer then judges what cites a dropped event)."""
    lookup = key_lookup(current)
    kept = []
    for event in events:
        try:
            kept.append(dict(check_pdu(dict(event.pdu), version, lookup).event.pdu))
        except (MalformedPdu, InvalidSignature):
            continue
    return kept


def signed_by(lookup: KeyLookup, event: Event, server_name: str) -> bool:
    """Whether ``server_name`` signed ``event`` with a key it held when the event was made (an invitee's
    server countersigning our invite, which the required signers do not name)."""
    signatures = event.pdu.get("signatures")
    by_server = signatures.get(server_name) if isinstance(signatures, Mapping) else None
    at_ts = event.origin_server_ts if event.room_version.enforce_key_validity else None
    for key_id in by_server if isinstance(by_server, Mapping) else ():
        key = lookup(server_name, key_id, at_ts) if key_id.startswith("ed25519:") else None
        if key is None:
            continue
        try:
            verify_event_signature(event.pdu, event.room_version, server_name, key)
        except InvalidSignature:
            continue
        return True
    return False


def join_remote(current: Deps, room_id: str, user_id: str, hinted: Iterable[str],
                content: Mapping[str, Any]) -> None:
    """Join ``room_id`` through a resident server and store the room as it answered."""
    with current.database.read() as conn:
        servers = candidate_servers(current, conn, room_id, user_id, hinted)
    _, version, event, answer = _handshake(current, "join", room_id, user_id, servers, content)
    if not isinstance(answer, Mapping):
        raise ResidentUnreachable("send_join answered no object")
    returned = answer.get("event")
    if isinstance(returned, Mapping):
        # A restricted join comes back countersigned by the server that authorised it (spec: "send_join").
        countersigned = Event.from_pdu(returned, version)
        if countersigned.event_id != event.event_id:
            raise ResidentUnreachable("send_join answered another event than our join")
        require_signatures(current, countersigned)
        event = countersigned
    try:
        state = parse_remote_events(answer.get("state"), version, "state")
        chain = parse_remote_events(answer.get("auth_chain"), version, "auth_chain")
    except BadJson as exc:
        raise ResidentUnreachable(str(exc)) from None
    tasks_api.join_remote_room(current.dispatcher, room_id=room_id, room_version=version.identifier,
                               join=dict(event.pdu), state=_checked(current, state, version),
                               auth_chain=_checked(current, chain, version))


def knock_remote(current: Deps, room_id: str, user_id: str, hinted: Iterable[str],
                 content: Mapping[str, Any]) -> None:
    """Knock on ``room_id`` through a resident; the knock is kept with the stripped state it answered."""
    with current.database.read() as conn:
        servers = candidate_servers(current, conn, room_id, user_id, hinted)
    _, version, event, answer = _handshake(current, "knock", room_id, user_id, servers, content)
    stripped = answer.get("knock_room_state") if isinstance(answer, Mapping) else None
    tasks_api.store_outside_membership(
        current.dispatcher, room_id=room_id, room_version=version.identifier, pdu=dict(event.pdu),
        stripped_state=[item for item in stripped if isinstance(item, dict)] if isinstance(stripped, list) else [])


def leave_remote(current: Deps, room_id: str, user_id: str, content: Mapping[str, Any]) -> None:
    """Reject an invite or rescind a knock in a room we are not in: through a resident when one answers,
    else here alone (the inviting server may be gone for good; the user must still be able to say no)."""
    with current.database.read() as conn:
        servers = candidate_servers(current, conn, room_id, user_id, ())
        room = current.stores.rooms.get_room(conn, room_id)
    if room is None:
        raise NotFound("You are not invited to this room")
    try:
        _, version, event, _ = _handshake(current, "leave", room_id, user_id, servers, content)
    except (ResidentUnreachable, NotFound):
        tasks_api.reject_invite_locally(current.dispatcher, room_id=room_id, user_id=user_id)
        return
    tasks_api.store_outside_membership(current.dispatcher, room_id=room_id, room_version=version.identifier,
                                       pdu=dict(event.pdu), stripped_state=None)


def invite_remote(current: Deps, room_id: str, sender: str, target: str, content: Mapping[str, Any]) -> None:
    """Invite a user of another server to our room: their server countersigns the invite (``PUT /v2/invite``),
    then the room's writer checks and appends it like any membership event it did not build."""
    with current.database.read() as conn:
        room = current.stores.rooms.get_room(conn, room_id)
        if room is None:
            raise NotFound("Unknown room")
        template = membership_template(current, conn, room, sender, target, {**content, "membership": "invite"},
                                       current.config.server_name)
    version = KNOWN_ROOM_VERSIONS[room.room_version]
    event = Event.from_pdu(hash_and_sign_event(template, version, current.config.server_name,
                                               current.signing_key), version)
    server = server_of(target)
    returned = _countersigned_invite(current, server, event, stripped_room_state(current, room_id, inviter=sender))
    if returned.event_id != event.event_id or not content_hash_matches(returned.pdu) \
            or not signed_by(key_lookup(current), returned, server):
        raise ResidentUnreachable(f"{server} did not countersign the invite")
    require_signatures(current, returned)
    tasks_api.accept_remote_membership(current.dispatcher, room_id=room_id, pdu=dict(returned.pdu))


def _countersigned_invite(current: Deps, server: str, event: Event,
                          invite_room_state: list[dict[str, Any]]) -> Event:
    """``PUT /v2/invite``, or ``/v1/invite`` for a server that does not know v2 in a room v1 servers can read;
    the event that comes back must be well formed in the room's version (else 400 ``M_BAD_JSON``)."""
    version = event.room_version
    where = f"/{path_segment(event.room_id)}/{path_segment(event.event_id)}"
    client = current.federation.client
    try:
        try:
            answer = client.put_json(server, "/_matrix/federation/v2/invite" + where, {
                "room_version": version.identifier, "event": dict(event.pdu),
                "invite_room_state": invite_room_state})
        except RemoteError as exc:
            if exc.status not in (400, 404) or version.identifier not in V1_INVITE_VERSIONS:
                raise
            pair = client.put_json(server, "/_matrix/federation/v1/invite" + where, {
                **event.pdu, "unsigned": {"invite_room_state": invite_room_state}})
            answer = pair[1] if isinstance(pair, list) and len(pair) == 2 else None
    except FederationError as exc:
        raise _client_error(exc) from None
    returned = answer.get("event") if isinstance(answer, Mapping) else None
    try:
        return parse_pdu(returned, version)
    except MalformedPdu as exc:
        raise BadJson(f"{server} answered the invite with a malformed event: {exc}") from None
