"""Periodic housekeeping run by beat (``run_background_tasks_on``): re-poke stale outbox keys, expire leftovers,
find the timeouts of the ephemeral streams, reconcile the user directory, and fold retired stream writers out of
sync tokens (``tasks/retired_writers.py``).

The outbox sweep is what turns "a poke may be lost" into "a poke is only ever delayed": any outbox row older than
:data:`STALE_AFTER_MS` gets its drain task sent again. The timeout sweeps only read: they find what has timed out
by this job's clock and send each key's stream writer a task naming that moment, since only the writer writes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery.signals import before_task_publish

from config.routing import RoutingTable
from protocol.presence import Cutoffs
from tasks.api import DRAIN_DEVICE_LISTS, REFRESH_MEMBER_PROFILES, REFRESH_USER_DIRECTORY
from tasks.appservices import SCHEDULE_SECONDS as APPSERVICE_SCHEDULE_SECONDS
from tasks.context import TaskContext
from tasks.email_pushers import sweep_email_pushers
from tasks.envelope import Stamp, signed_headers
from tasks.event_expiry import SWEEP_EXPIRING_EVENTS, sweep_expiring_events
from tasks.event_expiry import SWEEP_SECONDS as EXPIRY_SWEEP_SECONDS
from tasks.federation.sender import sweep_destinations
from tasks.ledger import retention_ms
from tasks.media import SCHEDULE_SECONDS as MEDIA_SCHEDULE_SECONDS
from tasks.presence import TIME_OUT_PRESENCE
from tasks.pushers import sweep_pushers
from tasks.registry import TaskSpec
from tasks.retired_writers import fold_task
from tasks.typing_notifications import EXPIRE_TYPING

STALE_AFTER_MS = 30_000
UI_AUTH_SESSION_LIFETIME_MS = 48 * 3600 * 1000
ADMIN_NONCE_LIFETIME_MS = 60_000
TO_DEVICE_TXN_LIFETIME_MS = 24 * 3600 * 1000
"""How long a sendToDevice transaction id is remembered: longer than any client retries one."""
EVENT_TXN_LIFETIME_MS = 24 * 3600 * 1000
"""How long a room send's transaction id is remembered (spec: "Transaction identifiers"), as for to-device."""
FEDERATION_TXN_LIFETIME_MS = 24 * 3600 * 1000
"""How long the answer to a received federation transaction is kept for the sender's retries of it."""
USER_DIRECTORY_BATCH = 1000
"""Users one directory reconciliation pokes at most; the next run continues."""

# Outbox family -> (drain task, its shard parameter)
_DRAINERS = {
    "device_lists": (DRAIN_DEVICE_LISTS, "user_id"),
    "user_directory": (REFRESH_USER_DIRECTORY, "user_id"),
    "member_profiles": (REFRESH_MEMBER_PROFILES, "room_id"),
}

SWEEP_OUTBOX = "background.sweep_outbox"
DELETE_EXPIRED = "background.delete_expired"
SWEEP_TYPING = "background.sweep_typing"
SWEEP_PRESENCE = "background.sweep_presence"
RECONCILE_USER_DIRECTORY = "background.reconcile_user_directory"
FOLD_RETIRED_WRITERS = "background.fold_retired_writers"
SWEEP_PUSHERS = "background.sweep_pushers"
SWEEP_EMAIL_PUSHERS = "background.sweep_email_pushers"
SWEEP_DESTINATIONS = "background.sweep_destinations"


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
    """Drop abandoned UI-auth sessions, stale admin nonces, old send and sendToDevice transaction ids, answers to
    received federation transactions, push actions their users have read past, tokens that can never be used
    again, and task outcomes older than any message that may still name them (``tasks/ledger.py``)."""
    now = context.clock.now_ms()
    stores = context.stores
    with context.database.write() as conn:
        stores.ui_auth.delete_sessions_created_before(conn, now - UI_AUTH_SESSION_LIFETIME_MS)
        stores.admin_nonces.delete_nonces_created_before(conn, now - ADMIN_NONCE_LIFETIME_MS)
        stores.device_inbox.delete_delivered_txns_before(conn, now - TO_DEVICE_TXN_LIFETIME_MS)
        stores.events.delete_txn_ids_before(conn, now - EVENT_TXN_LIFETIME_MS)
        stores.received_transactions.delete_before(conn, now - FEDERATION_TXN_LIFETIME_MS)
        stores.push_actions.delete_read_actions(conn)
        stores.processed_tasks.delete_recorded_before(
            conn, now - retention_ms(context.config.redis.visibility_timeout))
        # Expired access tokens are kept a while so their holders get soft_logout rather than a hard logout.
        stores.tokens.delete_expired(conn, access_before=now - UI_AUTH_SESSION_LIFETIME_MS, refresh_before=now)


def sweep_typing(context: TaskContext) -> int:
    """Have the typing writer of each room holding typers whose time ran out record their stop; returns the
    number of rooms poked. A lost poke is sent again by the next sweep."""
    now = context.clock.now_ms()
    with context.database.read() as conn:
        rooms = context.stores.typing.list_rooms_with_expired(conn, now)
    for room_id in rooms:
        context.dispatcher.send(EXPIRE_TYPING, room_id=room_id, before_ts=now)
    return len(rooms)


def sweep_presence(context: TaskContext) -> int:
    """Have the presence writer of each user whose idle or offline timeout ran out apply it, at this job's cutoffs
    (its clock, its ``presence`` timers); returns the number of users poked."""
    presence = context.config.presence
    if not presence.tracked:
        return 0
    cutoffs = Cutoffs.at(context.clock.now_ms(), presence.timers)
    with context.database.read() as conn:
        users = context.stores.presence.list_timed_out(conn, cutoffs)
    for user_id in users:
        context.dispatcher.send(TIME_OUT_PRESENCE, user_id=user_id, idle_before=cutoffs.idle_before,
                                synced_before=cutoffs.synced_before, active_before=cutoffs.active_before)
    return len(users)


def reconcile_user_directory(context: TaskContext) -> int:
    """Have the user directory updater refresh every user whose entry disagrees with their account or profile;
    returns the number of users poked. Only the updater writes the directory, so this job only reads and pokes."""
    if context.config.routing.queue_for("user_directory", None) is None:
        return 0  # update_user_directory: false and no updater named: nobody keeps the directory
    with context.database.read() as conn:
        user_ids = context.stores.user_directory.list_out_of_date_user_ids(conn, USER_DIRECTORY_BATCH)
    for user_id in user_ids:
        context.dispatcher.send(REFRESH_USER_DIRECTORY, user_id=user_id)
    return len(user_ids)


TASKS = (
    TaskSpec(SWEEP_OUTBOX, family="background", body=sweep_outbox),
    TaskSpec(DELETE_EXPIRED, family="background", body=delete_expired),
    TaskSpec(SWEEP_TYPING, family="background", body=sweep_typing),
    TaskSpec(SWEEP_PRESENCE, family="background", body=sweep_presence),
    TaskSpec(RECONCILE_USER_DIRECTORY, family="background", body=reconcile_user_directory),
    TaskSpec(FOLD_RETIRED_WRITERS, family="background", body=fold_task),
    TaskSpec(SWEEP_PUSHERS, family="background", body=sweep_pushers),
    TaskSpec(SWEEP_EMAIL_PUSHERS, family="background", body=sweep_email_pushers),
    TaskSpec(SWEEP_DESTINATIONS, family="background", body=sweep_destinations),
    TaskSpec(SWEEP_EXPIRING_EVENTS, family="background", body=sweep_expiring_events),
)

SCHEDULE_SECONDS = {SWEEP_OUTBOX: 15.0, DELETE_EXPIRED: 3600.0, SWEEP_TYPING: 5.0, SWEEP_PRESENCE: 5.0,
                    RECONCILE_USER_DIRECTORY: 600.0, FOLD_RETIRED_WRITERS: 600.0, SWEEP_PUSHERS: 15.0,
                    SWEEP_EMAIL_PUSHERS: 15.0,
                    SWEEP_DESTINATIONS: 10.0, SWEEP_EXPIRING_EVENTS: EXPIRY_SWEEP_SECONDS,
                    **MEDIA_SCHEDULE_SECONDS, **APPSERVICE_SCHEDULE_SECONDS}
"""Beat's timetable: task name -> interval."""
_FAMILIES = {name: "media" for name in MEDIA_SCHEDULE_SECONDS}
"""Periodic jobs that run elsewhere than ``run_background_tasks_on``: the media jobs on the media queue."""
_SERVES = {name: "appservice" for name in APPSERVICE_SCHEDULE_SECONDS}
"""Background jobs that only poke another family's work: not scheduled when no instance consumes that family."""


def beat_schedule(routing: RoutingTable) -> dict[str, dict[str, Any]]:
    """Celery beat's ``beat_schedule``: each periodic task sent to its family's queue (``run_background_tasks_on``'s,
    or the media queue; a family nobody consumes has no jobs), signed as it is sent (:func:`sign_beat_messages`)."""
    queues = {name: routing.queue_for(_FAMILIES.get(name, "background"), None) for name in SCHEDULE_SECONDS}
    return {name: {"task": name, "schedule": seconds, "options": {"queue": queues[name]}}
            for name, seconds in SCHEDULE_SECONDS.items()
            if queues[name] is not None and (name not in _SERVES or routing.instances(_SERVES[name]))}


def sign_beat_messages(secret: str | None) -> Callable[..., None]:
    """Stamp and sign each periodic message as beat publishes it: a stamp is per message (its own task id and
    issue time), so it cannot be fixed once in the schedule. For the beat process only; answers the receiver,
    which ``before_task_publish.disconnect`` takes."""

    def stamp(headers: dict[str, Any] | None = None, body: Any = None, **_: Any) -> None:
        if headers is None or headers.get("task") not in SCHEDULE_SECONDS:
            return
        kwargs = body[1] if isinstance(body, (tuple, list)) and len(body) > 1 else {}
        headers.update(signed_headers(secret, str(headers["task"]), dict(kwargs or {}),
                                      Stamp(str(headers["id"]), Stamp.new().issued_ms)))

    before_task_publish.connect(stamp, weak=False)
    return stamp
