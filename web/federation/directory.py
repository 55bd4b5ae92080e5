"""Room directory queries from other servers (Server-Server API, "Query": ``/query/directory``, and "Public Room
Directory": ``/publicRooms``). Both answer from this server's own aliases and published rooms only."""

from __future__ import annotations

from typing import Any

from flask import request

from protocol.errors import InvalidParam, MissingParam, NotFound
from protocol.identifiers import RoomAlias, server_of
from web.client.directory import PublicRoomsQuery, list_public_rooms, parse_limit
from web.deps import deps
from web.federation.auth import server_authenticated
from web.requests import json_body, query_text


@server_authenticated
def query_directory(*, origin: str) -> dict[str, Any]:
    """A local alias's room and the servers a joining server may try: ours first, then the other servers with
    joined members (Synapse's order)."""
    current = deps()
    text = request.args.get("room_alias")
    if not text:
        raise MissingParam("Missing parameter: room_alias")
    try:
        alias = RoomAlias.parse(text)
    except ValueError:
        raise InvalidParam("room_alias is not a valid room alias") from None
    if alias.server_name != current.config.server_name:
        raise InvalidParam("Room alias is not hosted on this homeserver")
    with current.database.read() as conn:
        entry = current.stores.aliases.get_alias(conn, str(alias))
        if entry is None:
            raise NotFound(f"Room alias {alias} not found")
        members = current.stores.state.list_members(conn, entry.room_id, "join")
    others = sorted({server for server in map(server_of, members)
                     if server and server != current.config.server_name})
    return {"room_id": entry.room_id, "servers": [current.config.server_name, *others]}


def _flag(name: str) -> bool:
    raw = query_text(name, max_length=8)
    if raw not in (None, "true", "false"):
        raise InvalidParam(f"'{name}' must be 'true' or 'false'")
    return raw == "true"


@server_authenticated
def get_public_rooms(*, origin: str) -> dict[str, Any]:
    """The query-string form of ``POST /publicRooms`` (no search filter): the same rooms for the same network."""
    current = deps()
    raw_limit = query_text("limit", max_length=12)
    if raw_limit is not None and not raw_limit.lstrip("-").isdigit():
        raise InvalidParam("'limit' must be an integer")
    limit = parse_limit(int(raw_limit) if raw_limit is not None else None)
    include_all = _flag("include_all_networks")
    network = query_text("third_party_instance_id", max_length=255)
    if include_all and network is not None:
        raise InvalidParam("'include_all_networks' and 'third_party_instance_id' exclude each other")
    return list_public_rooms(current, limit=limit, since=query_text("since", max_length=64), network=network,
                             include_all=include_all)


@server_authenticated
def query_public_rooms(*, origin: str) -> dict[str, Any]:
    return PublicRoomsQuery.parse(json_body()).list(deps())
