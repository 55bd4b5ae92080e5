"""The presence stream writer (Client-Server API, "Presence"), sharded by user id.

Three things change a user's presence: ``PUT /presence/{userId}/status``, a sync that needs recording
(``web/sync/presence.py`` decides, so most syncs send nothing), and a timeout found by beat's sweep
(``tasks/background.py``), which names the cutoffs its clock and timers give. Each re-reads the row under the
user's lock and applies ``protocol/presence.py``. Only a change clients must hear of takes a stream position and
rings the doorbell, for the user and for every room they are joined to, so the syncs of everyone who sees their
presence wake.
"""

from __future__ import annotations

from typing import Any

from persistence.doorbell import Ring
from persistence.locks import lock_user
from protocol.presence import (
    OFFLINE,
    Cutoffs,
    UserPresence,
    after_set,
    after_sync,
    clients_hear,
    timed_out,
)
from tasks.api import RECORD_SYNC, SET_PRESENCE, SET_REMOTE_PRESENCE
from tasks.context import TaskContext
from tasks.federation.edus import presence_changed
from tasks.registry import TaskSpec

STREAM = "presence"
TIME_OUT_PRESENCE = "presence.time_out"


def _store(context: TaskContext, conn: Any, old: UserPresence, new: UserPresence) -> Ring | None:
    """Write ``new`` over ``old``; the ring to send after commit when clients must hear of it."""
    stores = context.stores
    if new == old:
        return None
    if not clients_hear(old, new):
        stores.presence.update_activity(conn, new)
        return None
    stream_id = stores.stream_ids.allocate(conn, STREAM, writer=context.instance_name)[0]
    stores.presence.upsert_presence(conn, new, stream_id, context.instance_name)
    stores.stream_ids.advance_position(conn, STREAM, context.instance_name, stream_id)
    rooms = stores.state.list_rooms_with_membership(conn, new.user_id, "join")
    return Ring(STREAM, context.instance_name, stream_id, (new.user_id, *rooms))


def _change(context: TaskContext, user_id: str, change: Any) -> None:
    with context.database.write() as conn:
        lock_user(conn, STREAM, user_id)
        old = context.stores.presence.get_presence(conn, user_id)
        new = change(old)
        ring = _store(context, conn, old, new)
    if ring is not None:
        context.doorbell.ring(ring)
        presence_changed(context, new)


def set_presence(context: TaskContext, *, user_id: str, presence: str, status_msg: str | None) -> dict[str, Any]:
    """The user set their presence (the view checked the state); ``{}`` once committed."""
    now = context.clock.now_ms()
    _change(context, user_id, lambda old: after_set(old, presence, status_msg, now))
    return {}


def record_sync(context: TaskContext, *, user_id: str, presence: str, wait_ms: int) -> dict[str, Any]:
    """The user is syncing in ``presence`` (online or unavailable), held open for up to ``wait_ms``."""
    now = context.clock.now_ms()
    _change(context, user_id, lambda old: after_sync(old, presence, now, wait_ms))
    return {}


def time_out(context: TaskContext, *, user_id: str, idle_before: int, synced_before: int,
             active_before: int) -> None:
    """Apply the timeouts that ran out by these cutoffs, if the user has not been active or synced since."""
    cutoffs = Cutoffs(idle_before, synced_before, active_before)
    _change(context, user_id, lambda old: timed_out(old, cutoffs))


REMOTE_PRESENCE_TIMEOUT_MS = 30 * 60 * 1000
"""A remote user who is not offline stays so this long without news from their server (Synapse's federation
timeout), then the timeout sweep takes them offline."""


def set_remote_presence(context: TaskContext, *, user_id: str, presence: str, status_msg: str | None,
                        last_active_ago: int, currently_active: bool) -> None:
    """A remote user's presence as their server pushed it (``m.presence``); the view checked the origin."""
    now = context.clock.now_ms()
    last_active = now if currently_active else now - last_active_ago
    until = 0 if presence == OFFLINE else now + REMOTE_PRESENCE_TIMEOUT_MS
    _change(context, user_id, lambda old: UserPresence(user_id, presence, status_msg, last_active, until))


TASKS = (
    TaskSpec(SET_REMOTE_PRESENCE, family=STREAM, body=set_remote_presence, shard_param="user_id"),
    TaskSpec(SET_PRESENCE, family=STREAM, body=set_presence, shard_param="user_id", returns_result=True),
    TaskSpec(RECORD_SYNC, family=STREAM, body=record_sync, shard_param="user_id", returns_result=True),
    TaskSpec(TIME_OUT_PRESENCE, family=STREAM, body=time_out, shard_param="user_id"),
)
