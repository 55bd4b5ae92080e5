"""``POST /rooms/{roomId}/read_markers`` (Client-Server API, "Fully read markers"): move the fully read marker and,
in the same request, the read receipts (``m.read``, ``m.read.private``), exactly as ``/receipt`` would.

Every named event is checked before anything is written; unknown keys are ignored, as Synapse ignores them so
new receipt types do not break older servers.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from protocol.receipts import FULLY_READ, READ, READ_PRIVATE
from web.auth import authenticate
from web.client.receipts import check_ids, require_readable, send_marker
from web.deps import deps
from web.requests import json_body
from web.routing import client_route


def set_read_marker(room_id: str) -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    body = json_body()
    markers = {receipt_type: body.text(receipt_type, None) for receipt_type in (READ, READ_PRIVATE, FULLY_READ)}
    chosen = {receipt_type: event_id for receipt_type, event_id in markers.items() if event_id}
    check_ids(room_id, list(chosen.values()))
    if chosen:
        require_readable(current, requester, room_id, list(dict.fromkeys(chosen.values())))
    for receipt_type, event_id in chosen.items():
        send_marker(current, requester, room_id, receipt_type, event_id)
    return {}


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/rooms/<room_id>/read_markers", methods=["POST"])(set_read_marker)
