"""Uploading and reading ``/sync`` filters (Client-Server API, "Filtering"): ``POST`` and ``GET
/user/{userId}/filter[/{filterId}]``. Only a user's own filters; ids are decimal strings."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint

from protocol.canonical_json import encode_canonical_json
from protocol.errors import Forbidden, NotFound
from protocol.sync_filters import SyncFilter
from web.auth import authenticate
from web.deps import Deps, deps
from web.requests import json_body
from web.routing import client_route

_FILTER_ID = re.compile(r"0|[1-9][0-9]{0,17}")
MAX_FILTER_BYTES = 65536


def _require_self(user_id: str, requester_id: str, verb: str) -> None:
    if user_id != requester_id:
        raise Forbidden(f"Cannot {verb} filters for other users")


def create_filter(user_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    _require_self(user_id, requester.user_id, "create")
    body = json_body().data
    SyncFilter.parse(body)  # refuse what /sync could not use, now rather than at every sync
    stored = encode_canonical_json(body).decode("utf-8")
    if len(stored) > MAX_FILTER_BYTES:
        raise Forbidden("Filter too large")
    with current.database.write() as conn:
        filter_id = current.stores.filters.upsert_filter(conn, user_id, stored)
    return {"filter_id": str(filter_id)}


def load_filter(current: Deps, user_id: str, filter_id: str) -> dict[str, Any]:
    """A stored filter's JSON; an id that is not one of ``user_id``'s filters is ``M_NOT_FOUND``."""
    if _FILTER_ID.fullmatch(filter_id) is None:
        raise NotFound("No such filter")
    with current.database.read() as conn:
        stored = current.stores.filters.get_filter(conn, user_id, int(filter_id))
    if stored is None:
        raise NotFound("No such filter")
    data: dict[str, Any] = json.loads(stored)
    return data


def get_filter(user_id: str, filter_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    _require_self(user_id, requester.user_id, "get")
    return load_filter(current, user_id, filter_id)


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/user/<user_id>/filter", methods=["POST"])(create_filter)
    client_route(blueprint, "/user/<user_id>/filter/<filter_id>", methods=["GET"])(get_filter)
