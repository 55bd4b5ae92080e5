"""``GET /notifications`` (Client-Server API, "Push Notifications" > "Listing Notifications"): the events a user
has been, or would have been, notified about, newest first.

Served from the push actions the events writer stores with each event (``persistence/stores/push_actions.py``):
only rows that notify or highlight exist there. ``from`` and ``next_token`` are the stream ordering of the last
event a page held; ``read`` says whether the user's read receipt in the room has reached the event. Rows at or
before a read receipt are pruned by a housekeeping job, so read notifications drop out of the list in time.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from protocol.errors import InvalidParam
from web.auth import authenticate
from web.client.paging import query_integer
from web.client.serving import serve_events
from web.deps import deps
from web.requests import query_text
from web.routing import client_route

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


def _from_token() -> int | None:
    text = query_text("from", max_length=20)
    if text is None:
        return None
    if not text.isdigit():
        raise InvalidParam("Query parameter 'from' must be a next_token from an earlier /notifications response")
    return int(text)


def get_notifications() -> dict[str, Any]:
    current = deps()
    user_id = authenticate(current).user_id
    before = _from_token()
    limit = query_integer("limit")
    if limit is not None and limit < 0:
        raise InvalidParam("Query parameter 'limit' must not be negative")
    limit = DEFAULT_LIMIT if limit is None else min(limit, MAX_LIMIT)
    only = query_text("only", max_length=32)
    if only not in (None, "highlight"):
        raise InvalidParam("Query parameter 'only' may only be 'highlight'")
    with current.database.read() as conn:
        rows = current.stores.push_actions.list_notifications(conn, user_id, before=before, limit=limit + 1,
                                                              highlight_only=only == "highlight")
        page, more = rows[:limit], len(rows) > limit
        stored = current.stores.events.get_events(conn, [row.event_id for row in page])
        read_up_to = current.stores.receipts.list_read_positions(conn, user_id, {row.room_id for row in page})
        shown = [row for row in page if row.event_id in stored]
        served = serve_events(current, conn, [stored[row.event_id] for row in shown], current.clock.now_ms(),
                              user_id)
    notifications = [
        # profile_tag: the spec's optional string; null as Synapse sends it (SyTest checks the key is there).
        {"room_id": row.room_id, "event": event, "actions": row.actions, "profile_tag": None,
         "ts": stored[row.event_id].event.origin_server_ts,
         "read": row.stream_ordering <= read_up_to.get(row.room_id, -1)}
        for row, event in zip(shown, served, strict=True)]
    body: dict[str, Any] = {"notifications": notifications}
    if more and page:
        body["next_token"] = str(page[-1].stream_ordering)
    return body


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/notifications", methods=["GET"])(get_notifications)
