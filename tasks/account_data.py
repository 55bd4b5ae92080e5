"""The account_data stream writer: global and per-room account data, room tags (stored as ``m.tag``) and the
fully read marker (``m.fully_read``, spec: "Fully read markers").

Sharded by user id. Each write takes a new stream position and replaces the row's content, under the user's
lock, so tag edits (read, change, write back ``m.tag``) never lose a concurrent edit. Writing the same content
again is harmless: the row just moves to a new position, and clients see the same data once more. The fully
read marker only moves forward in the room's timeline, as Synapse moves it.
"""

from __future__ import annotations

from typing import Any

from persistence.doorbell import Ring
from persistence.locks import lock_user
from persistence.stores.events import topological_key
from protocol.errors import NotFound
from tasks.api import PUT_ACCOUNT_DATA, SET_FULLY_READ, UPDATE_TAG
from tasks.context import TaskContext
from tasks.registry import TaskSpec

STREAM = "account_data"
TAG_TYPE = "m.tag"
FULLY_READ_TYPE = "m.fully_read"


def _write(context: TaskContext, conn: Any, user_id: str, room_id: str, event_type: str,
           content: dict[str, Any]) -> int:
    stores = context.stores
    stream_id = stores.stream_ids.allocate(conn, STREAM, writer=context.instance_name)[0]
    stores.account_data.upsert_account_data(conn, user_id, room_id, event_type, content, stream_id,
                                            context.instance_name)
    stores.stream_ids.advance_position(conn, STREAM, context.instance_name, stream_id)
    return stream_id


def put_account_data(context: TaskContext, *, user_id: str, room_id: str, event_type: str,
                     content: dict[str, Any]) -> dict[str, Any]:
    """Set one account data entry (``room_id`` ``""`` for global); answers ``{}`` once committed."""
    with context.database.write() as conn:
        lock_user(conn, STREAM, user_id)
        stream_id = _write(context, conn, user_id, room_id, event_type, content)
    context.doorbell.ring(Ring(STREAM, context.instance_name, stream_id, (user_id,)))
    return {}


def update_tag(context: TaskContext, *, user_id: str, room_id: str, tag: str,
               content: dict[str, Any] | None) -> dict[str, Any]:
    """Add or replace (``content``) or remove (None) one tag of a room in the user's ``m.tag``."""
    stores = context.stores
    with context.database.write() as conn:
        lock_user(conn, STREAM, user_id)
        current = stores.account_data.get_account_data(conn, user_id, room_id, TAG_TYPE) or {}
        tags = dict(current.get("tags") or {})
        if content is None:
            if tag not in tags:
                return {}
            del tags[tag]
        else:
            tags[tag] = content
        stream_id = _write(context, conn, user_id, room_id, TAG_TYPE, {"tags": tags})
    context.doorbell.ring(Ring(STREAM, context.instance_name, stream_id, (user_id,)))
    return {}


def set_fully_read(context: TaskContext, *, user_id: str, room_id: str, event_id: str) -> dict[str, Any]:
    """Move the user's fully read marker in ``room_id`` to ``event_id`` if that lies after the current one (or the
    current one names no event of the room any more); ``{"stored": bool}`` once committed."""
    stores = context.stores
    with context.database.write() as conn:
        lock_user(conn, STREAM, user_id)
        target = stores.events.get_event(conn, event_id)
        if target is None or target.room_id != room_id:
            raise NotFound("Event not found")
        current = stores.account_data.get_account_data(conn, user_id, room_id, FULLY_READ_TYPE) or {}
        marked = current.get("event_id")
        held = stores.events.get_event(conn, marked) if isinstance(marked, str) else None
        if held is not None and held.room_id == room_id and topological_key(held) >= topological_key(target):
            return {"stored": False}
        stream_id = _write(context, conn, user_id, room_id, FULLY_READ_TYPE, {"event_id": event_id})
    context.doorbell.ring(Ring(STREAM, context.instance_name, stream_id, (user_id,)))
    return {"stored": True}


TASKS = (
    TaskSpec(PUT_ACCOUNT_DATA, family=STREAM, body=put_account_data, shard_param="user_id", returns_result=True),
    TaskSpec(UPDATE_TAG, family=STREAM, body=update_tag, shard_param="user_id", returns_result=True),
    TaskSpec(SET_FULLY_READ, family=STREAM, body=set_fully_read, shard_param="user_id", returns_result=True),
)
