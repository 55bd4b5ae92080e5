"""``POST /rooms/{roomId}/receipt/{receiptType}/{eventId}`` (Client-Server API, "Receipts"): a user says they have
read up to an event, publicly (``m.read``), privately (``m.read.private``), or moves their fully read marker
(``m.fully_read``, the same as ``/read_markers``).

The event must be one of the room's that the user, joined now, may see. ``thread_id`` makes a read receipt
threaded: ``main`` or a thread root's event id, and it must fit the event (``protocol/receipts.py``). The room's
receipts writer stores it; ``m.fully_read`` goes to the user's account_data writer.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import Connection

from protocol.errors import InvalidParam, NotFound
from protocol.receipts import FULLY_READ, RECEIPT_TYPES, is_in_thread
from tasks import api as tasks_api
from web.auth import authenticate
from web.client.room_access import require_joined, visible_events
from web.deps import Deps, deps
from web.requests import json_body
from web.routing import client_route
from web.token_cache import Requester


class _Relations:
    """The relation graph :func:`protocol.receipts.is_in_thread` walks, read from the relations store."""

    def __init__(self, current: Deps, conn: Connection) -> None:
        self._current = current
        self._conn = conn

    def parent_of(self, event_id: str) -> tuple[str, str] | None:
        return self._current.stores.relations.get_parent(self._conn, event_id)

    def has_thread_replies(self, event_id: str) -> bool:
        return self._current.stores.relations.has_thread_replies(self._conn, event_id)


def check_ids(room_id: str, event_ids: list[str]) -> None:
    if not room_id.startswith("!"):
        raise InvalidParam(f"{room_id!r} is not a room id")
    for event_id in event_ids:
        if not event_id.startswith("$"):
            raise InvalidParam(f"{event_id!r} is not an event id")


def require_readable(current: Deps, requester: Requester, room_id: str, event_ids: list[str],
                     thread_id: str | None = None) -> None:
    """404 for an unknown room; 403 unless the user is joined; 404 unless each event is one of the room's they
    may see; 400 unless the (one) event fits ``thread_id``."""
    with current.database.read() as conn:
        require_joined(current, conn, room_id, requester.user_id)
        found = current.stores.events.get_events(conn, event_ids)
        for event_id in event_ids:
            stored = found.get(event_id)
            if stored is None or stored.room_id != room_id or stored.rejected_reason is not None \
                    or not visible_events(current, conn, room_id, requester.user_id, [stored]):
                raise NotFound("Event not found")
        if thread_id is not None and not is_in_thread(event_ids[0], thread_id, _Relations(current, conn)):
            raise InvalidParam(f"event_id {event_ids[0]} is not related to thread {thread_id}")


def send_marker(current: Deps, requester: Requester, room_id: str, receipt_type: str, event_id: str,
                thread_id: str | None = None) -> None:
    """Hand a checked receipt or read marker to its writer and wait until it is committed."""
    if receipt_type == FULLY_READ:
        tasks_api.set_fully_read(current.dispatcher, user_id=requester.user_id, room_id=room_id,
                                 event_id=event_id)
    else:
        tasks_api.put_receipt(current.dispatcher, room_id=room_id, user_id=requester.user_id,
                              receipt_type=receipt_type, event_id=event_id, thread_id=thread_id)


def post_receipt(room_id: str, receipt_type: str, event_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    check_ids(room_id, [event_id])
    if receipt_type not in RECEIPT_TYPES:
        raise InvalidParam(f"Receipt type must be one of {', '.join(RECEIPT_TYPES)}")
    body = json_body()
    thread_id = None
    if body.has("thread_id"):
        thread_id = body.data["thread_id"]
        if not isinstance(thread_id, str) or not thread_id:
            raise InvalidParam("thread_id field must be a non-empty string")
        body.text("thread_id")  # no NUL characters
        if receipt_type == FULLY_READ:
            raise InvalidParam(f"thread_id is not compatible with {FULLY_READ} receipts")
    require_readable(current, requester, room_id, [event_id], thread_id)
    send_marker(current, requester, room_id, receipt_type, event_id, thread_id)
    return {}


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/rooms/<room_id>/receipt/<receipt_type>/<event_id:event_id>",
                 methods=["POST"])(post_receipt)
