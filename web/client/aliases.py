"""Room aliases (Client-Server API, "Room aliases" and ``directory.yaml``): creating, resolving and deleting
this server's aliases, listing a room's, and checking the aliases an ``m.room.canonical_alias`` event names.

Aliases are not a stream: views write the ``room_aliases`` rows directly. Aliases of other servers are resolved
by asking their server (``web/remote/directory.py``).
"""

from __future__ import annotations

import logging
import string
from collections.abc import Mapping
from typing import Any

from flask import Blueprint

from persistence.stores.aliases import AliasExists, RoomAliasEntry
from protocol.appservices import ALIASES
from protocol.errors import Exclusive, Forbidden, InvalidParam, MatrixError, NotFound
from protocol.identifiers import RoomAlias
from tasks import api as tasks_api
from web.appservice_queries import ask_for_alias
from web.auth import authenticate
from web.client.room_summaries import CANONICAL_ALIAS, current_state, may_edit_room_listing
from web.deps import Deps, deps
from web.remote.directory import remote_alias
from web.requests import json_body
from web.routing import client_route

log = logging.getLogger(__name__)


class RoomInUse(MatrixError):
    errcode = "M_ROOM_IN_USE"


class BadAlias(MatrixError):
    errcode = "M_BAD_ALIAS"


def parse_alias(text: str) -> RoomAlias:
    try:
        return RoomAlias.parse(text)
    except ValueError:
        raise InvalidParam("Room alias invalid") from None


def new_local_alias(current: Deps, localpart: str) -> RoomAlias:
    """An alias this server may create: its own server name, and (as Synapse) no whitespace in the localpart."""
    if ":" in localpart or any(char in localpart for char in string.whitespace):
        raise InvalidParam("Invalid characters in room alias localpart")
    return parse_alias(f"#{localpart}:{current.config.server_name}")


def insert_alias(current: Deps, alias: RoomAlias, room_id: str, creator: str, *, status: int = 409) -> None:
    """Map ``alias`` to ``room_id``; ``M_ROOM_IN_USE`` when taken (409 here, 400 from createRoom as the spec says)."""
    entry = RoomAliasEntry(str(alias), room_id, creator, current.clock.now_ms())
    try:
        with current.database.write() as conn:
            current.stores.aliases.insert_alias(conn, entry)
    except AliasExists:
        raise RoomInUse(f"Room alias {alias} already exists", status=status) from None


def check_alias_namespace(current: Deps, appservice_id: str | None, alias: str) -> None:
    """Application Service API, exclusive alias namespaces: an appservice creates aliases of its namespaces
    only, and nobody else creates one an appservice claims exclusively."""
    appservices = current.config.appservices
    service = appservices.by_id(appservice_id) if appservice_id is not None else None
    if service is not None:
        if not service.is_interested_in_alias(alias):
            raise Exclusive("This application service has not reserved this kind of alias.")
        return
    if appservices.exclusive_owner(ALIASES, alias) is not None:
        raise Exclusive("This alias is reserved by an application service.")


def resolve_alias_with_servers(current: Deps, text: str) -> tuple[str, list[str]]:
    """The room id an alias names and servers to join it through: a local alias from our table (or from the
    application service whose namespace holds it), another server's by asking it (``/query/directory``); 404
    when unknown."""
    alias = parse_alias(text)
    if alias.server_name != current.config.server_name:
        return remote_alias(current, alias)
    with current.database.read() as conn:
        entry = current.stores.aliases.get_alias(conn, str(alias))
    if entry is None:
        room_id = ask_for_alias(current, str(alias))
        if room_id is None:
            raise NotFound(f"Room alias {alias} not found")
        return room_id, [current.config.server_name]
    return entry.room_id, [current.config.server_name]


def resolve_alias(current: Deps, text: str) -> str:
    """The room id an alias names (``resolve_alias_with_servers`` without the servers)."""
    return resolve_alias_with_servers(current, text)[0]


def set_room_alias(room_alias: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    alias = parse_alias(room_alias)
    if alias.server_name != current.config.server_name:
        raise InvalidParam("Room alias must be local")
    new_local_alias(current, alias.localpart)
    room_id = json_body().text("room_id", max_length=255)
    if not room_id.startswith("!"):
        raise InvalidParam("'room_id' is not a room id")
    check_alias_namespace(current, requester.appservice_id, str(alias))
    with current.database.read() as conn:
        if current.stores.rooms.get_room(conn, room_id) is None:
            raise NotFound("Room not found")
        # Synapse's require_membership_for_aliases (on by default): only members name a room; an appservice
        # names rooms in its alias namespace without joining them.
        if requester.appservice_id is None and \
                requester.user_id not in current.stores.state.list_members(conn, room_id, "join"):
            raise Forbidden("You must be in the room to create an alias for it")
    insert_alias(current, alias, room_id, requester.user_id)
    return {}


def get_room_id_by_alias(room_alias: str) -> dict[str, Any]:
    room_id, servers = resolve_alias_with_servers(deps(), room_alias)
    return {"room_id": room_id, "servers": servers}


def delete_room_alias(room_alias: str) -> dict[str, Any]:
    """The alias's creator or a room moderator may delete it (the spec leaves access control to servers)."""
    current = deps()
    requester = authenticate(current)
    alias = parse_alias(room_alias)
    if alias.server_name != current.config.server_name:
        raise InvalidParam("Room alias must be local")
    with current.database.write() as conn:
        entry = current.stores.aliases.get_alias(conn, str(alias))
        if entry is None:
            raise NotFound(f"Room alias {alias} not found")
        if entry.creator != requester.user_id and not may_edit_room_listing(current, conn, entry.room_id,
                                                                            requester.user_id):
            raise Forbidden("You don't have permission to delete the alias.")
        current.stores.aliases.delete_alias(conn, str(alias))
    _drop_from_canonical_alias(current, entry.room_id, str(alias), requester.user_id)
    return {}


def _drop_from_canonical_alias(current: Deps, room_id: str, alias: str, sender: str) -> None:
    """Spec (deleteRoomAlias): servers may remove a deleted alias from ``m.room.canonical_alias``; like Synapse
    we try as the requester, and the alias stays deleted even when they may not change that event."""
    with current.database.read() as conn:
        event = current_state(current, conn, room_id, (CANONICAL_ALIAS,)).get(CANONICAL_ALIAS)
    if event is None:
        return
    content = dict(event.content)
    alt = content.get("alt_aliases")
    if content.get("alias") != alias and not (isinstance(alt, list) and alias in alt):
        return
    if content.get("alias") == alias:
        del content["alias"]
    if isinstance(alt, list):
        content["alt_aliases"] = [item for item in alt if item != alias]
    try:
        tasks_api.create_event(current.dispatcher, room_id=room_id, sender=sender, event_type=CANONICAL_ALIAS[0],
                               content=content, state_key="")
    except MatrixError as error:
        log.info("Could not remove %s from the canonical alias of %s: %s", alias, room_id, error.message)


def get_local_aliases(room_id: str) -> dict[str, Any]:
    """Members only, or anyone when the room is world readable (spec: getLocalAliases)."""
    current = deps()
    requester = authenticate(current, allow_guest=True)
    member = ("m.room.member", requester.user_id)
    visibility = ("m.room.history_visibility", "")
    with current.database.read() as conn:
        if current.stores.rooms.get_room(conn, room_id) is None:
            raise NotFound("Unknown room")
        state = current_state(current, conn, room_id, (member, visibility))
        joined = member in state and state[member].membership == "join"
        world_readable = visibility in state and state[visibility].content.get("history_visibility") == \
            "world_readable"
        if not joined and not world_readable:
            raise Forbidden(f"User {requester.user_id} not in room {room_id}")
        aliases = current.stores.aliases.list_aliases(conn, room_id)
    return {"aliases": aliases}


def check_canonical_alias(current: Deps, room_id: str, content: Mapping[str, Any]) -> None:
    """Before an ``m.room.canonical_alias`` event is sent: every alias it adds must exist and name this room.

    Spec: ``m.room.canonical_alias`` ("servers MUST validate the alias points to the room") and PUT state's
    400s (``M_INVALID_PARAM`` for syntax, ``M_BAD_ALIAS`` for aliases that do not point here). As Synapse does,
    aliases the current event already holds are not checked again, so a deleted alias does not block edits.
    """
    alias = content.get("alias")
    alt_aliases = content.get("alt_aliases", [])
    if alias is not None and not isinstance(alias, str):
        raise InvalidParam("'alias' must be a string")
    if not isinstance(alt_aliases, list) or not all(isinstance(item, str) for item in alt_aliases):
        raise InvalidParam("'alt_aliases' must be a list of strings")
    with current.database.read() as conn:
        previous = current_state(current, conn, room_id, (CANONICAL_ALIAS,)).get(CANONICAL_ALIAS)
        old = previous.content if previous is not None else {}
        old_alt = old.get("alt_aliases")
        added = set(alt_aliases) - set(old_alt if isinstance(old_alt, list) else [])
        if alias and alias != old.get("alias"):
            added.add(alias)
        for text in sorted(added):
            parsed = parse_alias(text)
            entry = current.stores.aliases.get_alias(conn, str(parsed)) \
                if parsed.server_name == current.config.server_name else None
            if entry is None or entry.room_id != room_id:
                raise BadAlias(f"The alias '{text}' does not point to this room.")


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/directory/room/<room_alias>", methods=["PUT"])(set_room_alias)
    client_route(blueprint, "/directory/room/<room_alias>", methods=["GET"])(get_room_id_by_alias)
    client_route(blueprint, "/directory/room/<room_alias>", methods=["DELETE"])(delete_room_alias)
    client_route(blueprint, "/rooms/<room_id>/aliases", methods=["GET"])(get_local_aliases)
