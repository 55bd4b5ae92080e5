"""Room membership (Client-Server API, "Room membership"): joining, leaving, inviting, kicking and banning are
all ``m.room.member`` state events, written by the room's events writer and judged by the auth rules. Also
forgetting a room once left, and who is in a room, now or as of a pagination token."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from sqlalchemy import Connection

from protocol.errors import BadJson, Forbidden, InvalidParam, MatrixError, NotFound
from protocol.events.model import StateKey
from protocol.identifiers import UserId
from tasks import api as tasks_api
from web.appservice_queries import user_exists_or_ask
from web.auth import authenticate
from web.client import remote_membership
from web.client.aliases import resolve_alias_with_servers
from web.client.guest_access import check_guest_may_join
from web.client.paging import RoomToken, query_token, reader_horizon, room_position
from web.client.profile import membership_profile
from web.client.room_access import readable_state_ids, require_joined, visible_events
from web.client.room_carryover import carry_over_on_join
from web.client.serving import serve_events
from web.client.third_party_invites import ThirdPartyId, bound_user, invite_unbound
from web.deps import Deps, deps
from web.requests import json_body
from web.routing import client_route

MAX_REASON_LENGTH = 1024
FORGETTABLE = ("leave", "ban")
"""Memberships a room may be forgotten in: the user is no longer joined, invited or knocking."""


TARGET_MEMBERSHIPS = {"kick": ["join", "invite", "knock"], "unban": ["ban"]}
"""Who each targeted ``leave`` may be sent for: a kick needs someone in the room (or on their way in), an unban
someone banned (as Synapse: otherwise 403; a kick must never unban)."""

REQUEST_ONLY_KEYS = ("third_party_signed",)
"""``/join`` body keys that are parameters of the request, not content of the membership event."""


def _member_event(current: Deps, room_id: str, sender: str, target: str, membership: str,
                  reason: str | None, extra: dict[str, Any] | None = None,
                  target_memberships: list[str] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {**(extra or {}), "membership": membership}
    if reason:
        content["reason"] = reason
    return tasks_api.create_event(current.dispatcher, room_id=room_id, sender=sender, event_type="m.room.member",
                                  content=content, state_key=target, target_memberships=target_memberships)


def invite_user(current: Deps, room_id: str, sender: str, target: str, reason: str | None) -> None:
    """Invite ``target``: through their server when it is another's (it must countersign), else here."""
    if UserId.parse(target).server_name != current.config.server_name:
        remote_membership.invite_remote(current, room_id, sender, target, {"reason": reason} if reason else {})
        return
    if current.config.appservices:
        user_exists_or_ask(current, target)  # an appservice may bring its user into being first
    _member_event(current, room_id, sender, target, "invite", reason)


def _own_membership(room_id_or_alias: str, membership: str, *, allow_guest: bool) -> dict[str, Any]:
    """Join or knock: the requester's own membership event, with their profile, by room id or alias."""
    current = deps()
    requester = authenticate(current, allow_guest=allow_guest)
    body = json_body(optional=True)
    reason = body.text("reason", None, max_length=MAX_REASON_LENGTH)
    room_id = room_id_or_alias
    hinted = [*request.args.getlist("server_name"), *request.args.getlist("via")]
    if room_id.startswith("#"):
        room_id, servers = resolve_alias_with_servers(current, room_id_or_alias)
        hinted.extend(servers)
    elif not room_id.startswith("!"):
        raise InvalidParam(f"{room_id!r} is neither a room id nor a room alias")
    if requester.is_guest and membership == "join":
        check_guest_may_join(current, room_id)
    # A join keeps what the client put in it (a reason, custom keys, its own per-room profile), as Synapse does.
    kept = ({key: value for key, value in body.data.items() if key not in REQUEST_ONLY_KEYS}
            if membership == "join" else {})
    content = {**membership_profile(current, requester.user_id), **kept}
    if requester.is_guest:
        content["kind"] = "guest"  # as Synapse marks a guest's membership (no auth rule reads it)
    with current.database.read() as conn:
        resident = remote_membership.is_resident(current, conn, room_id)
    if not resident:
        # A room of another server: through one of its residents (spec: the ``server_name``/``via`` hints).
        handshake = remote_membership.join_remote if membership == "join" else remote_membership.knock_remote
        handshake(current, room_id, requester.user_id, hinted, {**content, **({"reason": reason} if reason else {})})
        return {"room_id": room_id}
    _member_event(current, room_id, requester.user_id, requester.user_id, membership, reason, content)
    return {"room_id": room_id}


def join_room(room_id: str) -> dict[str, Any]:
    joined = _own_membership(room_id, "join", allow_guest=True)
    carry_over_on_join(deps(), authenticate(deps(), allow_guest=True).user_id, joined["room_id"])
    return joined


def knock_room(room_id: str) -> dict[str, Any]:
    """Ask to join (room versions 7+, join rule knock or knock_restricted; the auth rules decide)."""
    return _own_membership(room_id, "knock", allow_guest=False)


def leave_room(room_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    reason = json_body(optional=True).text("reason", None, max_length=MAX_REASON_LENGTH)
    with current.database.read() as conn:
        resident = remote_membership.is_resident(current, conn, room_id)
    if not resident:
        remote_membership.leave_remote(current, room_id, requester.user_id, {"reason": reason} if reason else {})
        return {}
    _member_event(current, room_id, requester.user_id, requester.user_id, "leave", reason)
    return {}


def forget_room(room_id: str) -> dict[str, Any]:
    """``POST /rooms/{roomId}/forget`` (spec: "Leaving rooms"): allowed once the user has left or been banned;
    while joined, invited or knocking it is the spec's 400 ``M_UNKNOWN``. A room the user holds no membership in
    is answered 200 with nothing recorded, as Synapse does. Read and write share one transaction, and the forget
    names the membership event it saw, so a rejoin landing meanwhile is not forgotten."""
    current = deps()
    requester = authenticate(current)
    user_id = requester.user_id
    with current.database.write() as conn:
        found = current.stores.state.get_membership(conn, room_id, user_id)
        if found is None:
            return {}
        membership, event_id = found
        if membership not in FORGETTABLE:
            raise MatrixError(f"User {user_id} is in room {room_id}")
        current.stores.forgotten_rooms.upsert_forgotten(conn, user_id, room_id, event_id, current.clock.now_ms())
    return {}


def _targeted(membership: str, path: str) -> Any:
    def view(room_id: str) -> dict[str, Any]:
        current = deps()
        requester = authenticate(current)
        body = json_body()
        reason = body.text("reason", None, max_length=MAX_REASON_LENGTH)
        if membership == "invite" and not body.has("user_id") and body.has("id_server"):
            # Invite by third-party identifier: the user the address is bound to, else a third-party invite.
            invitee = ThirdPartyId.from_body(body)
            bound = bound_user(current, invitee)
            if bound is None:
                invite_unbound(current, room_id, requester.user_id, invitee)
            else:
                invite_user(current, room_id, requester.user_id, bound, reason)
            return {}
        target = body.text("user_id", max_length=255)
        try:
            UserId.parse(target)
        except ValueError:
            raise BadJson("'user_id' is not a user id") from None
        if membership == "invite":
            invite_user(current, room_id, requester.user_id, target, reason)
            return {}
        _member_event(current, room_id, requester.user_id, target, membership, reason,
                      target_memberships=TARGET_MEMBERSHIPS.get(path))
        return {}

    view.__name__ = f"{path}_user"
    return view


def _state_at(current: Deps, conn: Connection, room_id: str, user_id: str,
              token: RoomToken) -> dict[StateKey, str]:
    """The room state as of a pagination token (spec: getMembersByRoom ``at``): the state after the latest event
    at or before the token's position, with a stream token placed topologically as ``/messages`` does.

    The reader's bounds are those of :func:`readable_state_group`: a departed member sees no further than their
    leave; an outsider of a room that is not world-readable gets 403. As in Synapse, the reader must also be
    allowed to see that latest event (so ``joined`` history stays closed to a later joiner). A token from before
    the room's first event (matrix-js-sdk passes its last sync token, which may predate a room that sync brought)
    names a point where the room had no state, so no members: 200 with an empty chunk, as Synapse answers.
    """
    horizon = reader_horizon(current, conn, room_id, user_id)
    position = room_position(current, conn, room_id, token)
    assert position is not None
    if horizon is not None:
        position = min(position, horizon)
    latest = current.stores.events.list_room_timeline(conn, room_id, from_=position, to=None, limit=1,
                                                      backwards=True)
    if not latest:
        return {}
    group = current.stores.state.get_event_state_group(conn, latest[0].event_id)
    if group is None:
        raise NotFound("No state of the room at the token 'at'")
    if not visible_events(current, conn, room_id, user_id, latest):
        raise Forbidden(f"User {user_id} may not see the room {room_id} as of the token 'at'")
    return current.stores.state.get_state(conn, group)


def get_members(room_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    wanted, unwanted = request.args.get("membership"), request.args.get("not_membership")
    at = query_token("at")
    with current.database.read() as conn:
        if at is None:
            state = readable_state_ids(current, conn, room_id, requester.user_id)
        else:
            state = _state_at(current, conn, room_id, requester.user_id, at)
        member_ids = [event_id for (kind, _), event_id in state.items() if kind == "m.room.member"]
        events = current.stores.events.get_events(conn, member_ids)
        chosen = [stored for stored in sorted(events.values(), key=lambda s: s.stream_ordering)
                  if (wanted is None or stored.event.membership == wanted)
                  and (unwanted is None or stored.event.membership != unwanted)]
        return {"chunk": serve_events(current, conn, chosen, current.clock.now_ms(), requester.user_id)}


def get_joined_members(room_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    with current.database.read() as conn:
        require_joined(current, conn, room_id, requester.user_id)
        state = current.stores.state.get_current_state_ids(conn, room_id)
        joined = current.stores.state.list_members(conn, room_id, "join")
        events = current.stores.events.get_events(conn, [state[("m.room.member", user)] for user in joined])
    members = {}
    for stored in events.values():
        content = stored.event.content
        members[stored.event.state_key] = {"display_name": content.get("displayname"),
                                           "avatar_url": content.get("avatar_url")}
    return {"joined": members}


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/rooms/<room_id>/join", methods=["POST"])(join_room)
    client_route(blueprint, "/join/<room_id>", methods=["POST"])(join_room)
    client_route(blueprint, "/knock/<room_id>", methods=["POST"])(knock_room)
    client_route(blueprint, "/rooms/<room_id>/leave", methods=["POST"])(leave_room)
    client_route(blueprint, "/rooms/<room_id>/forget", methods=["POST"])(forget_room)
    for membership, path in (("invite", "invite"), ("leave", "kick"), ("ban", "ban"), ("leave", "unban")):
        view = _targeted(membership, path)
        client_route(blueprint, f"/rooms/<room_id>/{path}", methods=["POST"])(view)
    client_route(blueprint, "/rooms/<room_id>/members", methods=["GET"])(get_members)
    client_route(blueprint, "/rooms/<room_id>/joined_members", methods=["GET"])(get_joined_members)
