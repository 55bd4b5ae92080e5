"""The published room directory (Client-Server API, "Published room directory", ``list_public_rooms.yaml``):
which rooms are listed, and the paginated, searchable listing itself.

Not a stream: views write ``room_directory`` rows directly. Listings are read from each room's current state and
ordered by joined members, largest first, then room id, so pages are stable while the rooms do not change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import Blueprint

from protocol.errors import Forbidden, InvalidParam, NotFound
from protocol.identifiers import is_valid_server_name
from web.auth import authenticate
from web.client.room_summaries import RoomSummary, may_edit_room_listing, summarise
from web.deps import Deps, deps
from web.remote.directory import remote_public_rooms
from web.requests import Body, json_body, query_text
from web.routing import client_route

MAX_LIMIT = 500
_TOKEN = re.compile(r"p(\d{1,9})")


def publish_room(current: Deps, room_id: str) -> None:
    with current.database.write() as conn:
        current.stores.directory.insert_published(conn, room_id, current.clock.now_ms())


def get_room_visibility_on_directory(room_id: str) -> dict[str, Any]:
    current = deps()
    with current.database.read() as conn:
        if current.stores.rooms.get_room(conn, room_id) is None:
            raise NotFound("Room not found")
        published = current.stores.directory.is_published(conn, room_id)
    return {"visibility": "public" if published else "private"}


def set_room_visibility_on_directory(room_id: str) -> dict[str, Any]:
    """Room moderators may list or unlist a room (the spec lets servers restrict this; Synapse does so)."""
    current = deps()
    requester = authenticate(current)
    visibility = json_body().text("visibility", "public")
    if visibility not in ("public", "private"):
        raise InvalidParam("'visibility' must be 'public' or 'private'")
    with current.database.write() as conn:
        if current.stores.rooms.get_room(conn, room_id) is None:
            raise NotFound("Room not found")
        if not may_edit_room_listing(current, conn, room_id, requester.user_id):
            raise Forbidden("You don't have permission to change this room's directory visibility")
        if visibility == "public":
            current.stores.directory.insert_published(conn, room_id, current.clock.now_ms())
        else:
            current.stores.directory.delete_published(conn, room_id)
    return {}


def _remote_server(current: Deps) -> str | None:
    """The ``server`` whose directory the client wants, when it is not this one."""
    server = query_text("server", max_length=255)
    if server is None or server == current.config.server_name:
        return None
    if not is_valid_server_name(server):
        raise InvalidParam("'server' is not a valid server name")
    return server


def _offset(since: str | None) -> int:
    if since is None:
        return 0
    match = _TOKEN.fullmatch(since)
    if match is None:
        raise InvalidParam("Unknown pagination token")
    return int(match.group(1))


def parse_limit(value: int | None) -> int | None:
    if value is None:
        return None
    if value < 0:
        raise InvalidParam("'limit' must not be negative")
    return min(value, MAX_LIMIT)


def list_public_rooms(current: Deps, *, limit: int | None, since: str | None, term: str | None = None,
                      room_types: list[str | None] | None = None, network: str | None = None,
                      include_all: bool = False) -> dict[str, Any]:
    """One page of a list: the main directory, one application service network's (``network``, an instance id
    ``{appservice_id}|{network_id}``), or both kinds together (``include_all``)."""
    offset = _offset(since)
    directory = current.stores.directory
    with current.database.read() as conn:
        if network is not None:
            appservice_id, _, network_id = network.partition("|")
            room_ids = directory.list_network_rooms(conn, appservice_id, network_id)
        else:
            room_ids = directory.list_published(conn)
            if include_all:
                room_ids = sorted({*room_ids, *directory.list_network_rooms(conn)})
        summaries = [summary for summary in (summarise(current, conn, room_id) for room_id in room_ids)
                     if summary is not None]
    matched = [summary for summary in summaries
               if (not term or summary.matches(term))
               and (room_types is None or summary.room_type in room_types)]
    matched.sort(key=_order)
    end = len(matched) if limit is None else offset + limit
    page = matched[offset:end]
    response: dict[str, Any] = {"chunk": [summary.published_chunk() for summary in page],
                                "total_room_count_estimate": len(matched)}
    if end < len(matched):
        response["next_batch"] = f"p{end}"
    if offset > 0:
        response["prev_batch"] = f"p{max(0, offset - (limit if limit is not None else offset))}"
    return response


def _order(summary: RoomSummary) -> tuple[int, str]:
    return -summary.num_joined_members, summary.room_id


def get_public_rooms() -> dict[str, Any]:
    """Unauthenticated, as the spec has it (Synapse asks for a token unless configured otherwise)."""
    current = deps()
    server = _remote_server(current)
    raw_limit = query_text("limit", max_length=12)
    if raw_limit is not None and not re.fullmatch(r"-?\d+", raw_limit):
        raise InvalidParam("'limit' must be an integer")
    limit = parse_limit(int(raw_limit) if raw_limit is not None else None)
    since = query_text("since", max_length=64)
    if server is not None:
        return remote_public_rooms(current, server, limit=limit, since=since, search=None,
                                   third_party_instance_id=None, include_all_networks=False)
    return list_public_rooms(current, limit=limit, since=since)


def query_public_rooms() -> dict[str, Any]:
    current = deps()
    authenticate(current, allow_guest=True)
    server = _remote_server(current)
    query = PublicRoomsQuery.parse(json_body())
    if server is not None:
        return remote_public_rooms(current, server, limit=query.limit, since=query.since,
                                   search=query.search.data or None, third_party_instance_id=query.network,
                                   include_all_networks=query.include_all)
    return query.list(current)


@dataclass(frozen=True)
class PublicRoomsQuery:
    """A ``POST /publicRooms`` body, as clients and other servers send it (the same schema on both APIs)."""

    limit: int | None
    since: str | None
    include_all: bool
    network: str | None
    search: Body

    @classmethod
    def parse(cls, body: Body) -> PublicRoomsQuery:
        limit = parse_limit(body.integer("limit", None))
        since = body.text("since", None, max_length=64)
        include_all = body.flag("include_all_networks", False)
        network = body.text("third_party_instance_id", None, max_length=255)
        if include_all and network is not None:
            raise InvalidParam("'include_all_networks' and 'third_party_instance_id' exclude each other")
        return cls(limit, since, include_all, network, body.object("filter", required=False) or Body({}, "filter"))

    def list(self, current: Deps) -> dict[str, Any]:
        """The page of this server's directory the query asks for."""
        term = self.search.text("generic_search_term", None, max_length=1024)
        return list_public_rooms(current, limit=self.limit, since=self.since, term=term,
                                 room_types=room_types_of(self.search), network=self.network,
                                 include_all=self.include_all)


def room_types_of(search: Body) -> list[str | None] | None:
    value = search.data.get("room_types")
    if value is None:
        return None
    if not isinstance(value, list) or not all(item is None or isinstance(item, str) for item in value):
        raise InvalidParam("'filter.room_types' must be a list of strings or nulls")
    return list(value)


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/directory/list/room/<room_id>", methods=["GET"])(get_room_visibility_on_directory)
    client_route(blueprint, "/directory/list/room/<room_id>", methods=["PUT"])(set_room_visibility_on_directory)
    client_route(blueprint, "/publicRooms", methods=["GET"])(get_public_rooms)
    client_route(blueprint, "/publicRooms", methods=["POST"])(query_public_rooms)

