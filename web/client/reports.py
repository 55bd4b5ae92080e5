"""Reporting content (Client-Server API, "Reporting content"): events and rooms, kept for the administrators.

Reports are not a stream (nothing syncs them), so the view stores them itself. An event report needs the
reporter to see the event now (spec v1.8: joined to its room); anything else is the same 404 whether the event
is missing, elsewhere or hidden, so a report cannot probe for events. A room report needs no membership (v1.13).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import Connection

from persistence.stores.reports import Report
from protocol.errors import InvalidParam, MatrixError, NotFound
from web.auth import authenticate
from web.client.room_access import require_joined, visible_events
from web.deps import Deps, deps
from web.ratelimit import check_rate_limit
from web.requests import json_body
from web.routing import client_route

MAX_REASON_LENGTH = 4096
LOWEST_SCORE, HIGHEST_SCORE = -100, 0


def report_event(room_id: str, event_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    body = json_body()
    reason = body.text("reason", None, max_length=MAX_REASON_LENGTH)
    # ``score`` left the spec in v1.18; clients that still send it must send a valid one.
    score = body.integer("score", None)
    if score is not None and not LOWEST_SCORE <= score <= HIGHEST_SCORE:
        raise InvalidParam(f"'score' must be between {LOWEST_SCORE} and {HIGHEST_SCORE}")
    check_rate_limit(current, "rc_reports", requester.user_id)
    with current.database.read() as conn:
        stored = current.stores.events.get_event(conn, event_id)
        seen = (stored is not None and stored.room_id == room_id and stored.rejected_reason is None
                and _joined(current, conn, room_id, requester.user_id)
                and visible_events(current, conn, room_id, requester.user_id, [stored]))
    if not seen:
        raise NotFound("The event was not found or you are not joined to the room.")
    with current.database.write() as conn:
        current.stores.reports.insert_report(conn, Report(room_id, event_id, requester.user_id, reason, score,
                                                          current.clock.now_ms()))
    return {}


def _joined(current: Deps, conn: Connection, room_id: str, user_id: str) -> bool:
    try:
        require_joined(current, conn, room_id, user_id)
    except MatrixError:
        return False
    return True


def report_room(room_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    reason = json_body().text("reason", max_length=MAX_REASON_LENGTH)
    check_rate_limit(current, "rc_reports", requester.user_id)
    with current.database.read() as conn:
        known = current.stores.rooms.get_room(conn, room_id) is not None
    if not known:
        raise NotFound("The room was not found.")
    with current.database.write() as conn:
        current.stores.reports.insert_report(conn, Report(room_id, None, requester.user_id, reason, None,
                                                          current.clock.now_ms()))
    return {}


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/rooms/<room_id>/report/<event_id:event_id>", methods=["POST"])(report_event)
    client_route(blueprint, "/rooms/<room_id>/report", methods=["POST"], versions=("v3",))(report_room)
