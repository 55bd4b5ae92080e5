"""The resident side of membership handshakes: other servers' users joining, leaving and knocking on our rooms.

Spec: Server-Server API, "Joining Rooms" (``make_join``, ``send_join`` v1/v2, restricted rooms), "Knocking upon a
room" (``make_knock``, ``send_knock``) and "Leaving Rooms" (``make_leave``, ``send_leave`` v1/v2). ``make_*``
answers an unsigned template built on the room's forward extremities, once the room's current state would allow
it; ``send_*`` checks what the server built from it (shape and signatures here, the auth rules in the room's events
writer, ``tasks/federation/membership.py``), and answers what the joining server needs to take part.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from flask import request
from sqlalchemy import Connection

from persistence.stores.events import topological_key
from persistence.stores.rooms import Room
from protocol.auth import (
    CREATE_KEY,
    AuthError,
    auth_types_for_event,
    check_auth,
    join_rule_of,
    membership_of,
    power_levels_from_state,
)
from protocol.canonical_json import JsonDict
from protocol.errors import BadJson, Forbidden, InvalidParam, NotFound
from protocol.events.builder import EventTemplate, draft_pdu
from protocol.events.model import Event, StateKey
from protocol.events.signatures import add_event_signature
from protocol.federation.membership import (
    UnableToAuthoriseJoin,
    UnableToGrantJoin,
    check_membership_pdu,
    negotiate_version,
    require_content_hash,
    server_of,
)
from protocol.federation.pdus import check_signatures
from protocol.identifiers import UserId
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from protocol.signing import InvalidSignature
from tasks import api as tasks_api
from web.deps import Deps, deps
from web.federation.auth import server_authenticated
from web.federation.pdu_batches import key_lookup
from web.federation.room_access import check_acl
from web.requests import json_body

AUTHORISING_USER = "join_authorised_via_users_server"
RESTRICTED_RULES = ("restricted", "knock_restricted")
MAX_HEROES = 5


def resident_room(current: Deps, conn: Connection, room_id: str, origin: str | None = None) -> Room:
    """A room this server is in (one of our users is joined): only then can it build or accept events there.
    With ``origin``, the room's server ACL must also let that server in (403)."""
    room = current.stores.rooms.get_room(conn, room_id)
    if room is None or not any(server_of(user) == current.config.server_name
                               for user in current.stores.state.list_members(conn, room_id, "join")):
        raise NotFound(f"This server is not in room {room_id}")
    if origin is not None:
        check_acl(current.stores, conn, room_id, origin)
    return room


def _state_events(current: Deps, conn: Connection, room_id: str, keys: set[StateKey]) -> dict[StateKey, Event]:
    ids = current.stores.state.get_current_state_ids_for(conn, room_id, keys)
    found = current.stores.events.get_events(conn, ids.values())
    return {key: found[event_id].event for key, event_id in ids.items() if event_id in found}


def _check_user(user_id: str, origin: str) -> None:
    try:
        UserId.parse(user_id)
    except ValueError:
        raise InvalidParam(f"{user_id!r} is not a user id") from None
    if server_of(user_id) != origin:
        raise Forbidden(f"{origin} may not act for {user_id}")


def _restricted_authoriser(current: Deps, conn: Connection, room_id: str, user_id: str,
                           state: Mapping[StateKey, Event]) -> str:
    """For a join by the rules of a restricted room (spec: "Restricted rooms"): a local user who may invite, once
    ``user_id`` is joined to a room the ``allow`` list names. Rooms we are not in cannot be checked here."""
    join_rules = state.get(("m.room.join_rules", ""))
    allow = join_rules.content.get("allow") if join_rules is not None else None
    rooms = [entry.get("room_id") for entry in allow if isinstance(entry, Mapping)
             and entry.get("type") == "m.room_membership"] if isinstance(allow, list) else []
    known = [other for other in rooms if isinstance(other, str)
             and current.stores.state.list_members(conn, other, "join")]
    if not known:
        raise UnableToAuthoriseJoin("This server cannot check the conditions of this restricted room")
    if not any((current.stores.state.get_membership(conn, other, user_id) or (None, ""))[0] == "join"
               for other in known):
        raise Forbidden(f"{user_id} is not joined to a room that grants access to this one")
    levels = power_levels_from_state(_state_events(current, conn, room_id, {CREATE_KEY, ("m.room.power_levels", "")}))
    for member in sorted(current.stores.state.list_members(conn, room_id, "join")):
        if server_of(member) == current.config.server_name and levels.user_level(member) >= levels.invite:
            return member
    raise UnableToGrantJoin("No user of this server may invite to this room")


def membership_template(current: Deps, conn: Connection, room: Room, sender: str, target: str,
                        content: dict[str, Any], origin: str) -> JsonDict:
    """An unsigned membership event of ``origin``'s, built on the room's forward extremities with auth events
    from the current state, once the current state allows it (else 403): the template ``make_*`` answers, and
    the invite we ask a remote invitee's server to sign."""
    version = KNOWN_ROOM_VERSIONS[room.room_version]
    stores = current.stores
    prev = stores.events.get_events(conn, stores.events.list_forward_extremities(conn, room.room_id))
    wanted = auth_types_for_event("m.room.member", sender, target, content, version)
    state = _state_events(current, conn, room.room_id, wanted | {CREATE_KEY})
    pdu = draft_pdu(version, EventTemplate("m.room.member", content, target), room_id=room.room_id, sender=sender,
                    prev_events=sorted((stored.event for stored in prev.values()), key=lambda e: e.event_id),
                    auth_events=sorted((state[key] for key in wanted if key in state), key=lambda e: e.event_id),
                    origin_server_ts=current.clock.now_ms(), server_name=origin,
                    opaque_id=secrets.token_urlsafe(18).replace("-", "").replace("_", ""))
    try:
        check_auth(Event(str(pdu.get("event_id", "$template")), version, pdu), state)
    except AuthError as exc:
        raise Forbidden(f"You are not allowed to {content['membership']} this room: {exc}") from None
    return pdu


def _make(room_id: str, user_id: str, origin: str, membership: str) -> dict[str, Any]:
    current = deps()
    _check_user(user_id, origin)
    with current.database.read() as conn:
        room = resident_room(current, conn, room_id, origin)
        if membership in ("join", "knock"):
            negotiate_version(room.room_version, request.args.getlist("ver"))
        content: dict[str, Any] = {"membership": membership}
        version = KNOWN_ROOM_VERSIONS[room.room_version]
        if membership == "join" and version.restricted_join_rule:
            state = _state_events(current, conn, room_id, {("m.room.join_rules", ""), ("m.room.member", user_id)})
            if join_rule_of(state) in RESTRICTED_RULES and membership_of(state, user_id) not in ("invite", "join"):
                content[AUTHORISING_USER] = _restricted_authoriser(current, conn, room_id, user_id, state)
        template = membership_template(current, conn, room, user_id, user_id, content, origin)
    return {"event": template, "room_version": room.room_version}


@server_authenticated
def make_join(room_id: str, user_id: str, *, origin: str) -> dict[str, Any]:
    return _make(room_id, user_id, origin, "join")


@server_authenticated
def make_leave(room_id: str, user_id: str, *, origin: str) -> dict[str, Any]:
    return _make(room_id, user_id, origin, "leave")


@server_authenticated
def make_knock(room_id: str, user_id: str, *, origin: str) -> dict[str, Any]:
    return _make(room_id, user_id, origin, "knock")


def _received(current: Deps, room_id: str, event_id: str, origin: str, membership: str) -> tuple[Event, Room]:
    """The membership event in the request body, checked and (restricted join authorised by us) countersigned."""
    with current.database.read() as conn:
        room = resident_room(current, conn, room_id, origin)
    version = KNOWN_ROOM_VERSIONS[room.room_version]
    body = json_body().data
    try:
        event = check_membership_pdu(body, version, room_id=room_id, event_id=event_id, membership=membership,
                                     origin=origin)
    except BadJson:
        forbidden_unless_signed(current, body, version)
        raise
    authoriser = event.content.get(AUTHORISING_USER)
    if version.restricted_join_rule and membership == "join" and isinstance(authoriser, str) \
            and server_of(authoriser) == current.config.server_name:
        event = _countersigned(current, event, version)
    require_signatures(current, event)
    require_content_hash(event)
    return event, room


def forbidden_unless_signed(current: Deps, pdu: object, version: RoomVersion) -> None:
    """For a malformed event handed over in a handshake: 403 when it is not even signed by whom it must be (the
    sender learns that first, as from Synapse, which checks signatures before the event's form), else nothing
    (the caller then refuses the form, 400)."""
    try:
        event = Event.from_pdu(pdu, version) if isinstance(pdu, Mapping) else None
    except (ValueError, TypeError, KeyError):
        return
    if event is not None and event.sender:
        require_signatures(current, event)


def require_signatures(current: Deps, event: Event) -> None:
    """Check 2 on receipt of a PDU: every server that must sign ``event`` did (403 ``M_FORBIDDEN`` if not)."""
    try:
        check_signatures(event, key_lookup(current))
    except InvalidSignature as exc:
        raise Forbidden(f"Event {event.event_id} is not validly signed: {exc}") from None


def _countersigned(current: Deps, event: Event, version: RoomVersion) -> Event:
    """Our signature on a restricted join we are named to authorise (spec: "send_join" ``event``). The join is
    re-checked against the allow list now: the user may have left the granting room since ``make_join``."""
    with current.database.read() as conn:
        state = _state_events(current, conn, event.room_id,
                              {("m.room.join_rules", ""), ("m.room.member", event.sender)})
        if join_rule_of(state) in RESTRICTED_RULES and membership_of(state, event.sender) not in ("invite", "join"):
            _restricted_authoriser(current, conn, event.room_id, event.sender, state)
    signed = add_event_signature(event.pdu, version, current.config.server_name, current.signing_key)
    return Event(event.event_id, version, signed)


def _join_answer(current: Deps, event: Event, omit_members: bool) -> dict[str, Any]:
    """State before the join, its auth chain and the join's, and (``omit_members``) only the members a client
    needs to name the room (spec: "send_join" v2, ``omit_members``)."""
    stores = current.stores
    with current.database.read() as conn:
        stored = stores.events.get_event(conn, event.event_id)
        group = stores.state.get_event_state_group(conn, event.event_id)
        state_ids = stores.state.get_state(conn, group) if group is not None else {}
        if stored is not None and stored.replaces_state:
            state_ids[event.state_tuple] = stored.replaces_state
        else:
            state_ids.pop(event.state_tuple, None)
        joined_servers: list[str] = []
        if omit_members:
            joined_servers = sorted({server_of(user) for user in stores.state.list_members(conn, event.room_id, "join")
                                     if user != event.sender} - {""})
            kept = _heroes(state_ids, event.sender) if not state_ids.keys() & {("m.room.name", ""),
                                                                              ("m.room.canonical_alias", "")} else set()
            state_ids = {key: event_id for key, event_id in state_ids.items()
                         if key[0] != "m.room.member" or key[1] in kept}
        state = stores.events.get_events(conn, state_ids.values())
        chain_ids = stores.event_graph.get_auth_chain_ids(conn, [*state_ids.values(), event.event_id])
        if omit_members:
            chain_ids -= set(state_ids.values())
        chain = stores.events.get_events(conn, chain_ids)
    answer: dict[str, Any] = {
        "origin": current.config.server_name,
        "state": [dict(item.event.pdu) for item in sorted(state.values(), key=topological_key)],
        # Oldest first, so a receiver that takes them in order (as SyTest's does, the last of a state key
        # winning) ends with the newest: an order left to the database could hand it an old power levels event.
        "auth_chain": [dict(item.event.pdu) for item in sorted(chain.values(), key=topological_key)],
        "event": dict(event.pdu),
        "members_omitted": omit_members,
    }
    if omit_members:
        answer["servers_in_room"] = joined_servers
    return answer


def _heroes(state_ids: Mapping[StateKey, str], joiner: str) -> set[str]:
    members = sorted(user for kind, user in state_ids if kind == "m.room.member" and user != joiner)
    return set(members[:MAX_HEROES])


def _omit_members() -> bool:
    value = request.args.get("omit_members", "false")
    if value not in ("true", "false"):
        raise InvalidParam("omit_members must be true or false")
    return value == "true"


def _send(room_id: str, event_id: str, origin: str, membership: str) -> tuple[Event, Deps]:
    current = deps()
    event, _ = _received(current, room_id, event_id, origin, membership)
    tasks_api.accept_remote_membership(current.dispatcher, room_id=room_id, pdu=dict(event.pdu))
    return event, current


@server_authenticated
def send_join_v1(room_id: str, event_id: str, *, origin: str) -> Any:
    event, current = _send(room_id, event_id, origin, "join")
    return [200, _join_answer(current, event, omit_members=False)]


@server_authenticated
def send_join_v2(room_id: str, event_id: str, *, origin: str) -> Any:
    omit = _omit_members()
    event, current = _send(room_id, event_id, origin, "join")
    return _join_answer(current, event, omit_members=omit)


@server_authenticated
def send_leave_v1(room_id: str, event_id: str, *, origin: str) -> Any:
    _send(room_id, event_id, origin, "leave")
    return [200, {}]


@server_authenticated
def send_leave_v2(room_id: str, event_id: str, *, origin: str) -> Any:
    _send(room_id, event_id, origin, "leave")
    return {}


@server_authenticated
def send_knock(room_id: str, event_id: str, *, origin: str) -> Any:
    """Answers the stripped state a knocker's client shows (spec: "send_knock" ``knock_room_state``)."""
    _, current = _send(room_id, event_id, origin, "knock")
    return {"knock_room_state": stripped_room_state(current, room_id)}


STRIPPED_STATE_KEYS: tuple[StateKey, ...] = tuple((kind, "") for kind in (
    "m.room.create", "m.room.join_rules", "m.room.name", "m.room.avatar", "m.room.canonical_alias",
    "m.room.encryption", "m.room.topic"))
"""What an invitee or knocker is shown of a room (Synapse's default ``room_prejoin_state``)."""


def stripped_room_state(current: Deps, room_id: str, inviter: str | None = None) -> list[dict[str, Any]]:
    """The room's current state as a knocker or invitee may see it: a few events, stripped (spec: "Stripped
    state"); the create event goes in full, as room version 11+ receivers ask. ``inviter``: for an invite, whose
    membership is shown too (as Synapse does, so the invitee's client can show who invited them)."""
    keys = [*STRIPPED_STATE_KEYS, *((("m.room.member", inviter),) if inviter is not None else ())]
    with current.database.read() as conn:
        state = _state_events(current, conn, room_id, set(keys))
    stripped = []
    for key in keys:
        event = state.get(key)
        if event is None:
            continue
        if key == CREATE_KEY:
            stripped.append(dict(event.pdu))
            continue
        stripped.append({"type": event.type, "state_key": event.state_key, "sender": event.sender,
                         "content": dict(event.content)})
    return stripped
