"""Creating rooms, sending events and reading state (Client-Server API, "Rooms", "Events")."""

from __future__ import annotations

import secrets
import string
from typing import Any

from flask import Blueprint

from protocol.errors import BadJson, InvalidParam, MatrixError, NotFound
from protocol.events.builder import EventTemplate, v12_room_id
from protocol.events.ids import legacy_room_id
from protocol.identifiers import UserId
from protocol.room_creation import PRESETS, RoomRequest, create_content, default_preset, initial_events
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomIdFormat, RoomVersion
from tasks import api as tasks_api
from web.auth import authenticate
from web.client.aliases import check_alias_namespace, check_canonical_alias, insert_alias, new_local_alias
from web.client.directory import publish_room
from web.client.guest_access import remove_guests, revokes_guest_access
from web.client.membership import invite_user
from web.client.profile import membership_profile
from web.client.remote_membership import invite_remote
from web.client.room_access import readable_state_group, readable_state_ids, require_room, visible_events
from web.client.serving import serve_event, serve_events
from web.client.third_party_invites import ThirdPartyId, bound_user, invite_unbound
from web.deps import Deps, deps
from web.ratelimit import check_rate_limit
from web.requests import Body, json_body, query_text
from web.routing import client_route
from web.token_cache import Requester

MAX_TXN_ID_LENGTH = 255


class UnsupportedRoomVersion(MatrixError):
    errcode = "M_UNSUPPORTED_ROOM_VERSION"


def _initial_state(body: Body) -> list[EventTemplate]:
    items = body.data.get("initial_state", [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise BadJson("'initial_state' must be a list of objects")
    templates = []
    for index, item in enumerate(items):
        entry = Body(item, f"initial_state[{index}]")
        content = entry.object("content")
        assert content is not None
        templates.append(EventTemplate(entry.text("type", max_length=255), content.data,
                                       entry.text("state_key", "", max_length=255)))
    return templates


def create_room() -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    check_rate_limit(current, "rc_room_creation", requester.user_id)
    body = json_body()
    visibility = body.text("visibility", "private")
    if visibility not in ("public", "private"):
        raise InvalidParam("'visibility' must be 'public' or 'private'")
    preset = body.text("preset", None) or default_preset(visibility)
    if preset not in PRESETS:
        raise InvalidParam(f"Unknown preset {preset!r}")
    version_id = body.text("room_version", current.config.default_room_version, max_length=32)
    if version_id not in KNOWN_ROOM_VERSIONS:
        raise UnsupportedRoomVersion(f"Room version {version_id!r} is not supported by this server")
    alias_name = body.text("room_alias_name", None, max_length=255)
    alias = new_local_alias(current, alias_name) if alias_name is not None else None
    if alias is not None:
        check_alias_namespace(current, requester.appservice_id, str(alias))
    third_party_invitees = _third_party_invitees(body)
    creation = body.object("creation_content", required=False)
    override = body.object("power_level_content_override", required=False)
    request = RoomRequest(
        preset=preset,
        creation_content=creation.data if creation else {},
        initial_state=_initial_state(body),
        name=body.text("name", None, max_length=255),
        topic=body.text("topic", None, max_length=4096),
        invite=body.user_ids("invite"),
        is_direct=body.flag("is_direct", False),
        power_level_content_override=override.data if override else None,
        canonical_alias=str(alias) if alias else None,
    )
    room_version = KNOWN_ROOM_VERSIONS[version_id]
    creator = requester.user_id
    now = current.clock.now_ms()
    content = create_content(request, creator, room_version)
    room_id, now = new_room_id(current, room_version, content, creator, now)
    profile = membership_profile(current, creator)
    # A user of another server is invited through their server once the room exists (it must countersign).
    ours = current.config.server_name
    remote_invitees = [user_id for user_id in request.invite if UserId.parse(user_id).server_name != ours]
    plan = [{"type": t.type, "state_key": t.state_key, "content": dict(t.content)}
            for t in initial_events(request, creator, room_version, profile)
            if not (t.type == "m.room.member" and t.state_key in remote_invitees and t.state_key != creator)]
    if alias is not None:  # taken is a 400 M_ROOM_IN_USE (spec: createRoom), found before the room exists
        insert_alias(current, alias, room_id, creator, status=400)
    try:
        tasks_api.create_room(current.dispatcher, room_id=room_id, room_version=version_id, creator=creator,
                              create_content=content, origin_server_ts=now, initial_events=plan)
    except MatrixError as error:
        # The writer refused the room: free the alias. A timeout (5xx) may still see the room created; keep it.
        if alias is not None and error.http_status < 500:
            with current.database.write() as conn:
                current.stores.aliases.delete_alias(conn, str(alias))
        raise
    if visibility == "public":
        publish_room(current, room_id)
    for invitee in remote_invitees:
        invite_remote(current, room_id, creator, invitee, {"is_direct": True} if request.is_direct else {})
    for third_party in third_party_invitees:
        bound = bound_user(current, third_party)
        if bound is None:
            invite_unbound(current, room_id, creator, third_party)
        else:
            invite_user(current, room_id, creator, bound, None)
    return {"room_id": room_id}


def _third_party_invitees(body: Body) -> list[ThirdPartyId]:
    """createRoom's ``invite_3pid``: each entry as ``POST /invite`` takes one, checked before the room exists."""
    entries = body.data.get("invite_3pid", [])
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise BadJson("'invite_3pid' must be a list of objects")
    return [ThirdPartyId.from_body(Body(entry, f"invite_3pid[{index}]")) for index, entry in enumerate(entries)]


def new_room_id(current: Deps, room_version: RoomVersion, content: dict[str, Any], creator: str,
                now: int) -> tuple[str, int]:
    """A room id nobody holds yet, and the create event timestamp to use: random before v12, derived from the
    create event in v12.

    The id hashes the create event, so the same creator making rooms with the same creation content in one
    millisecond would get one id (and the writer would take the second request for a retry of the first):
    moving the timestamp on by a millisecond gives each new room its own id.
    """
    if room_version.room_id_format is not RoomIdFormat.CREATE_EVENT_HASH:
        opaque = "".join(secrets.choice(string.ascii_letters) for _ in range(18))
        return legacy_room_id(opaque, current.config.server_name), now
    while True:
        room_id = v12_room_id(room_version, content, sender=creator, origin_server_ts=now,
                              server_name=current.config.server_name)
        with current.database.read() as conn:
            if current.stores.rooms.get_room(conn, room_id) is None:
                return room_id, now
        now += 1


def send_event(room_id: str, event_type: str, txn_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    if len(txn_id) > MAX_TXN_ID_LENGTH:
        raise InvalidParam("Transaction id too long")
    return _send_once(current, requester, room_id, txn_id, event_type, json_body().data)


def send_event_without_txn(room_id: str, event_type: str) -> dict[str, Any]:
    """``POST /rooms/{roomId}/send/{eventType}``: the pre-r0 form without a transaction id, which older clients
    and SyTest still use (Synapse serves it). Each request is a new event: nothing can recognise a retry."""
    current = deps()
    requester = authenticate(current, allow_guest=True)
    content = json_body().data
    check_rate_limit(current, "rc_message", requester.user_id)
    result = tasks_api.create_event(current.dispatcher, room_id=room_id, sender=requester.user_id,
                                    event_type=event_type, content=content, device_id=requester.device_id)
    return {"event_id": result["event_id"]}


def _send_once(current: Deps, requester: Requester, room_id: str, txn_id: str, event_type: str,
               content: dict[str, Any], redacts: str | None = None) -> dict[str, Any]:
    """Send for a client transaction: a retried txn id answers the first event at once, without a task."""
    with current.database.read() as conn:
        earlier = current.stores.events.get_txn_event_id(conn, requester.user_id, requester.device_id, room_id,
                                                         txn_id)
    if earlier is not None:
        return {"event_id": earlier}
    check_rate_limit(current, "rc_message", requester.user_id)
    result = tasks_api.create_event(current.dispatcher, room_id=room_id, sender=requester.user_id,
                                    event_type=event_type, content=content, redacts=redacts,
                                    device_id=requester.device_id, txn_id=txn_id)
    return {"event_id": result["event_id"]}


def set_state(room_id: str, event_type: str, state_key: str = "") -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    content = json_body().data
    if (event_type, state_key) == ("m.room.canonical_alias", ""):
        check_canonical_alias(current, room_id, content)
    result = tasks_api.create_event(current.dispatcher, room_id=room_id, sender=requester.user_id,
                                    event_type=event_type, content=content, state_key=state_key)
    if revokes_guest_access(event_type, state_key, content):
        remove_guests(current, room_id)
    return {"event_id": result["event_id"]}


def get_state_event(room_id: str, event_type: str, state_key: str = "") -> dict[str, Any]:
    """The event's content, or with ``?format=event`` the whole client event (spec v1.16's ``format``; Synapse
    and SyTest use it)."""
    current = deps()
    requester = authenticate(current, allow_guest=True)
    response_format = query_text("format", max_length=16) or "content"
    if response_format not in ("content", "event"):
        raise InvalidParam("Query parameter 'format' must be 'content' or 'event'")
    whole_event = response_format == "event"
    with current.database.read() as conn:
        group = readable_state_group(current, conn, room_id, requester.user_id)
        key = (event_type, state_key)
        if group is None:
            event_id = current.stores.state.get_current_state_event_id(conn, room_id, key)
        else:
            event_id = current.stores.state.get_state_ids_for_groups(conn, [group], [key])[group].get(key)
        stored = current.stores.events.get_event(conn, event_id) if event_id else None
        served = serve_event(current, conn, stored, current.clock.now_ms(), requester.user_id) if stored else None
    if served is None:
        raise NotFound("Event not found")
    return dict(served) if whole_event else dict(served["content"])


def get_state(room_id: str) -> list[dict[str, Any]]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    with current.database.read() as conn:
        state = readable_state_ids(current, conn, room_id, requester.user_id)
        events = current.stores.events.get_events(conn, state.values())
        ordered = sorted(events.values(), key=lambda stored: stored.stream_ordering)
        return serve_events(current, conn, ordered, current.clock.now_ms(), requester.user_id)


def get_event(room_id: str, event_id: str) -> dict[str, Any]:
    """404 for an event the reader may not see too, as the spec's ``getOneRoomEvent`` answers."""
    current = deps()
    requester = authenticate(current, allow_guest=True)
    with current.database.read() as conn:
        require_room(current, conn, room_id)
        stored = current.stores.events.get_event(conn, event_id)
        if stored is None or stored.rejected_reason is not None or stored.room_id != room_id:
            raise NotFound("Event not found")
        shown = visible_events(current, conn, room_id, requester.user_id, [stored])
        if not shown:
            raise NotFound("Event not found or not visible to you")
        return serve_event(current, conn, shown[0], current.clock.now_ms(), requester.user_id)


def redact_event(room_id: str, event_id: str, txn_id: str) -> dict[str, Any]:
    """``PUT /rooms/{roomId}/redact/{eventId}/{txnId}`` (spec: "Redactions"): an ``m.room.redaction`` event,
    idempotent per transaction id; the events writer refuses redacting others' events below the redact level."""
    current = deps()
    requester = authenticate(current, allow_guest=True)
    if len(txn_id) > MAX_TXN_ID_LENGTH:
        raise InvalidParam("Transaction id too long")
    content = _redaction_content(current, room_id, event_id)
    return _send_once(current, requester, room_id, txn_id, "m.room.redaction", content, redacts=event_id)


def redact_event_without_txn(room_id: str, event_id: str) -> dict[str, Any]:
    """``POST /rooms/{roomId}/redact/{eventId}``: the pre-r0 form without a transaction id, which SyTest and older
    clients still use (Synapse serves it). Each request is a new redaction: nothing can recognise a retry."""
    current = deps()
    requester = authenticate(current, allow_guest=True)
    content = _redaction_content(current, room_id, event_id)
    check_rate_limit(current, "rc_message", requester.user_id)
    result = tasks_api.create_event(current.dispatcher, room_id=room_id, sender=requester.user_id,
                                    event_type="m.room.redaction", content=content, redacts=event_id,
                                    device_id=requester.device_id)
    return {"event_id": result["event_id"]}


def _redaction_content(current: Deps, room_id: str, event_id: str) -> dict[str, Any]:
    """The redaction's content from the request body (``reason`` a string), once ``event_id`` is known not to be
    another room's event."""
    body = json_body()
    body.text("reason", None)
    with current.database.read() as conn:
        target = current.stores.events.get_event(conn, event_id)
    if target is not None and target.room_id != room_id:
        # As Synapse: a redaction names an event of its own room (an event's room never changes, so this holds).
        raise MatrixError("Cannot redact an event of another room", status=400)
    return {key: value for key, value in body.data.items() if key != "redacts"}


def get_joined_rooms() -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    with current.database.read() as conn:
        rooms = current.stores.state.list_rooms_with_membership(conn, requester.user_id, "join")
    return {"joined_rooms": rooms}


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/createRoom", methods=["POST"])(create_room)
    client_route(blueprint, "/rooms/<room_id>/send/<event_type>/<txn_id>", methods=["PUT"])(send_event)
    client_route(blueprint, "/rooms/<room_id>/send/<event_type>", methods=["POST"])(send_event_without_txn)
    client_route(blueprint, "/rooms/<room_id>/state/<event_type>", methods=["PUT"])(set_state)
    client_route(blueprint, "/rooms/<room_id>/state/<event_type>/", methods=["PUT"])(set_state)
    client_route(blueprint, "/rooms/<room_id>/state/<event_type>/<path:state_key>", methods=["PUT"])(set_state)
    client_route(blueprint, "/rooms/<room_id>/state/<event_type>", methods=["GET"])(get_state_event)
    client_route(blueprint, "/rooms/<room_id>/state/<event_type>/", methods=["GET"])(get_state_event)
    client_route(blueprint, "/rooms/<room_id>/state/<event_type>/<path:state_key>",
                 methods=["GET"])(get_state_event)
    client_route(blueprint, "/rooms/<room_id>/state", methods=["GET"])(get_state)
    client_route(blueprint, "/rooms/<room_id>/event/<event_id:event_id>", methods=["GET"])(get_event)
    client_route(blueprint, "/rooms/<room_id>/redact/<event_id:event_id>/<txn_id>", methods=["PUT"])(redact_event)
    client_route(blueprint, "/rooms/<room_id>/redact/<event_id:event_id>", methods=["POST"])(redact_event_without_txn)
    client_route(blueprint, "/joined_rooms", methods=["GET"])(get_joined_rooms)
