"""The typing stream writer (Client-Server API, "Typing Notifications"), sharded by room id.

A typer is kept with the moment their typing stops by itself. Only a change to a room's set of typers takes a
new stream position and rings the doorbell: starting, stopping, or timing out. Refreshing the timeout of someone
already typing is silent, as in Synapse (clients re-send every few seconds while the user types). Timeouts are
recorded by the next write to the room, or by :data:`EXPIRE_TYPING`, which beat's sweep
(``tasks/background.py``) sends for each room holding typers whose time has passed; readers already count those
as stopped, so the recorded stop only tells waiting syncs to look.
"""

from __future__ import annotations

from typing import Any

from persistence.doorbell import Ring
from persistence.locks import lock_room_on_stream
from persistence.stores.typing_notifications import STOPPED
from tasks.api import SET_TYPING, STOP_TYPING
from tasks.context import TaskContext
from tasks.federation.edus import typing_changed
from tasks.registry import TaskSpec

STREAM = "typing"
EXPIRE_TYPING = "typing.expire"


def _timed_out(expiries: dict[str, int], at_ms: int) -> dict[str, int]:
    return {user_id: STOPPED for user_id, expires in expiries.items() if STOPPED < expires <= at_ms}


def _record(context: TaskContext, conn: Any, room_id: str, changes: dict[str, int]) -> int | None:
    """Store the changes to the room's typers at one new stream position (None when there are none)."""
    if not changes:
        return None
    stores = context.stores
    stream_id = stores.stream_ids.allocate(conn, STREAM, writer=context.instance_name)[0]
    for user_id, expires in sorted(changes.items()):
        stores.typing.upsert_typer(conn, room_id, user_id, expires, stream_id, context.instance_name)
    stores.stream_ids.advance_position(conn, STREAM, context.instance_name, stream_id)
    return stream_id


def _ring(context: TaskContext, room_id: str, stream_id: int | None, changes: dict[str, int]) -> None:
    """Wake the room's syncs, and tell the other servers in it which of our users started or stopped."""
    if stream_id is not None:
        context.doorbell.ring(Ring(STREAM, context.instance_name, stream_id, (room_id,)))
        typing_changed(context, room_id, {user_id: expires != STOPPED for user_id, expires in changes.items()})


def set_typing(context: TaskContext, *, room_id: str, user_id: str, typing: bool,
               timeout_ms: int) -> dict[str, Any]:
    """``user_id`` is typing in ``room_id`` for the next ``timeout_ms`` (or has stopped); ``{}`` once committed.
    The view has checked that the user is joined."""
    with context.database.write() as conn:
        lock_room_on_stream(conn, STREAM, room_id)
        now = context.clock.now_ms()
        expiries = context.stores.typing.get_room_expiries(conn, room_id)
        changes = _timed_out(expiries, now)
        was_typing = expiries.get(user_id, STOPPED) > now
        if typing and was_typing:
            context.stores.typing.update_expiry(conn, room_id, user_id, now + timeout_ms)
        elif typing:
            changes[user_id] = now + timeout_ms
        elif was_typing:
            changes[user_id] = STOPPED
        stream_id = _record(context, conn, room_id, changes)
    _ring(context, room_id, stream_id, changes)
    return {}


def stop_typing(context: TaskContext, *, room_id: str, user_id: str) -> None:
    """The user left the room (or was kicked or banned): their typing stops now, not at its timeout. Poked by
    the events writer after the membership commits; nothing happens if they were not typing."""
    set_typing(context, room_id=room_id, user_id=user_id, typing=False, timeout_ms=0)


def expire_typing(context: TaskContext, *, room_id: str, before_ts: int) -> None:
    """Record the stop of every typer of ``room_id`` whose typing ended at or before ``before_ts`` (the sweep's
    clock decides; a typer who refreshed since is left alone). Running it twice changes nothing more."""
    with context.database.write() as conn:
        lock_room_on_stream(conn, STREAM, room_id)
        changes = _timed_out(context.stores.typing.get_room_expiries(conn, room_id), before_ts)
        stream_id = _record(context, conn, room_id, changes)
    _ring(context, room_id, stream_id, changes)


TASKS = (
    TaskSpec(SET_TYPING, family=STREAM, body=set_typing, shard_param="room_id", returns_result=True),
    TaskSpec(EXPIRE_TYPING, family=STREAM, body=expire_typing, shard_param="room_id"),
    TaskSpec(STOP_TYPING, family=STREAM, body=stop_typing, shard_param="room_id"),
)
