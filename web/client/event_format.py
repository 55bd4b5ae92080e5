"""Events as clients see them (Client-Server API, "Room event format"): the client fields plus ``unsigned``."""

from __future__ import annotations

from typing import Any

from persistence.stores.events import StoredEvent


def client_event(stored: StoredEvent, now_ms: int) -> dict[str, Any]:
    event = stored.event
    body: dict[str, Any] = {
        "content": dict(event.content),
        "event_id": event.event_id,
        "origin_server_ts": event.origin_server_ts,
        "room_id": stored.room_id,
        "sender": event.sender,
        "type": event.type,
        "unsigned": {"age": max(0, now_ms - event.origin_server_ts)},
    }
    if event.state_key is not None:
        body["state_key"] = event.state_key
    if event.redacts is not None and event.type == "m.room.redaction":
        # rooms/v11 moved ``redacts`` into the content; clients written for either place find it in both, as
        # Synapse serves it (matrix-nio, for one, drops a redaction without the top-level key).
        body["redacts"] = event.redacts
        body["content"].setdefault("redacts", event.redacts)
    return body
