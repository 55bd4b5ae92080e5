"""Periodic housekeeping run by beat (``run_background_tasks_on``): re-poke stale outbox keys, expire leftovers.

The outbox sweep is what turns "a poke may be lost" into "a poke is only ever delayed": any outbox row older than
:data:`STALE_AFTER_MS` gets its drain task sent again.
"""

from __future__ import annotations

from typing import Any

from config.routing import RoutingTable
from tasks.api import DRAIN_DEVICE_LISTS, REFRESH_MEMBER_PROFILES, REFRESH_USER_DIRECTORY
from tasks.context import TaskContext
from tasks.envelope import signed_headers
from tasks.registry import TaskSpec

STALE_AFTER_MS = 30_000
UI_AUTH_SESSION_LIFETIME_MS = 48 * 3600 * 1000
ADMIN_NONCE_LIFETIME_MS = 60_000
TO_DEVICE_TXN_LIFETIME_MS = 24 * 3600 * 1000
"""How long a sendToDevice transaction id is remembered: longer than any client retries one."""

# Outbox family -> (drain task, its shard parameter)
_DRAINERS = {
    "device_lists": (DRAIN_DEVICE_LISTS, "user_id"),
    "user_directory": (REFRESH_USER_DIRECTORY, "user_id"),
    "member_profiles": (REFRESH_MEMBER_PROFILES, "room_id"),
}

SWEEP_OUTBOX = "background.sweep_outbox"
DELETE_EXPIRED = "background.delete_expired"


def sweep_outbox(context: TaskContext) -> int:
    """Poke every key whose outbox rows have waited too long; returns the number of pokes sent."""
    deadline = context.clock.now_ms() - STALE_AFTER_MS
    pokes = []
    with context.database.read() as conn:
        for family, (task_name, param) in _DRAINERS.items():
            stale = context.stores.outbox.list_stale_keys(conn, family, deadline)
            pokes.extend((task_name, param, key) for key in stale)
    for task_name, param, key in pokes:
        context.dispatcher.send(task_name, **{param: key})
    return len(pokes)


def delete_expired(context: TaskContext) -> None:
    """Drop abandoned UI-auth sessions, stale admin nonces, old sendToDevice transaction ids and tokens that
    can never be used again."""
    now = context.clock.now_ms()
    stores = context.stores
    with context.database.write() as conn:
        stores.ui_auth.delete_sessions_created_before(conn, now - UI_AUTH_SESSION_LIFETIME_MS)
        stores.admin_nonces.delete_nonces_created_before(conn, now - ADMIN_NONCE_LIFETIME_MS)
        stores.device_inbox.delete_delivered_txns_before(conn, now - TO_DEVICE_TXN_LIFETIME_MS)
        # Expired access tokens are kept a while so their holders get soft_logout rather than a hard logout.
        stores.tokens.delete_expired(conn, access_before=now - UI_AUTH_SESSION_LIFETIME_MS, refresh_before=now)


TASKS = (
    TaskSpec(SWEEP_OUTBOX, family="background", body=sweep_outbox),
    TaskSpec(DELETE_EXPIRED, family="background", body=delete_expired),
)

SCHEDULE_SECONDS = {SWEEP_OUTBOX: 15.0, DELETE_EXPIRED: 3600.0}
"""Beat's timetable: task name -> interval."""


def beat_schedule(routing: RoutingTable, secret: str | None) -> dict[str, dict[str, Any]]:
    """Celery beat's ``beat_schedule``: each periodic task sent, signed, to ``run_background_tasks_on``'s queue."""
    queue = routing.queue_for("background", None)
    return {
        name: {"task": name, "schedule": seconds,
               "options": {"queue": queue, "headers": signed_headers(secret, name, {})}}
        for name, seconds in SCHEDULE_SECONDS.items()
    }
