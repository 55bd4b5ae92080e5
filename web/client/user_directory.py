"""``POST /user_directory/search`` (Client-Server API, "User Directory").

Finds local users by user id or display name: others who share a room with the searcher, and those joined to a
public room (public to join, or world-readable), or everyone when ``user_directory.search_all_users`` is set.
Entries are kept by the ``user_directory`` queue's consumer (``tasks/user_directory.py``); deactivated users and
guests are not listed.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from protocol.errors import InvalidParam
from web.auth import authenticate
from web.deps import deps
from web.requests import json_body
from web.routing import client_route

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MAX_TERM_LENGTH = 256


def search_user_directory() -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    body = json_body()
    term = body.text("search_term", max_length=MAX_TERM_LENGTH)
    limit = body.integer("limit", DEFAULT_LIMIT)
    if limit < 1:
        raise InvalidParam("'limit' must be positive")
    settings = current.config.user_directory
    terms = term.lower().split()
    if not settings.enabled or not terms:
        return {"limited": False, "results": []}
    limit = min(limit, MAX_LIMIT)
    with current.database.read() as conn:
        public: list[str] = []
        if not settings.search_all_users:
            # Public for the directory: anyone may join, or anyone may read (Synapse's rule).
            rules = current.stores.events.list_current_state_contents(conn, "m.room.join_rules")
            visibility = current.stores.events.list_current_state_contents(conn, "m.room.history_visibility")
            public = sorted({room_id for room_id, content in rules.items() if content.get("join_rule") == "public"}
                            | {room_id for room_id, content in visibility.items()
                               if content.get("history_visibility") == "world_readable"})
        found = current.stores.user_directory.search_entries(
            conn, requester.user_id, terms, public_rooms=public, everyone=settings.search_all_users, limit=limit + 1)
    results = [{key: value for key, value in (("user_id", entry.user_id), ("display_name", entry.display_name),
                                              ("avatar_url", entry.avatar_url)) if value is not None}
               for entry in found[:limit]]
    return {"limited": len(found) > limit, "results": results}


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/user_directory/search", methods=["POST"])(search_user_directory)
