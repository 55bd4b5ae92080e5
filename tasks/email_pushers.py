"""Email pushers (``kind: email``): missed-message emails over SMTP, as Synapse's ``email.enable_notifs`` sends.

A notification is mailed only once it has stayed unread for ``email.notif_delay``: a user reading the room (a
read receipt, or a message of their own there) before then gets no email for it. Each room is throttled on its
own, per user, as Synapse throttles per room: a room that was in an email cannot start another for
``notif_throttle``, growing :data:`THROTTLE_MULTIPLIER`-fold with each email up to :data:`THROTTLE_MAX_MS`, and
starting again after :data:`THROTTLE_RESET_AFTER_MS` without notifications. Once any notification is due (past
the delay, in a room not throttled), one email lists everything unread, as Synapse's does.

There is no poke per event: the background sweep (:func:`sweep_email_pushers`) pokes :data:`EMAIL_FOR_USER` for
users whose email pusher holds a notification that is due. The task follows the http pushers' pattern
(``tasks/pushers.py``) on the same push queues, sharded by user: the pusher row is claimed in one transaction
that reads its pending push actions up to the events stream's committed positions and, when it mails, moves the
pusher's position past them while keeping the claim. The email is sent after that commit, and the SMTP server's
answer recorded under the claim: taken, the claim is released and the rooms' throttles move on; certainly not
taken (:class:`~tasks.smtp.NotSent`), the position goes back and the pusher retries with backoff. A mail cannot be
recalled and carries nothing a server deduplicates, so it is at most once from the hand-over on: a connection
lost once the message was handed over (:class:`~tasks.smtp.MaybeSent`), or a worker dying before it recorded the
answer, is never sent again (docs/architecture.md, "Pushes, emails and appservice transactions across a crash").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import Connection

from persistence.stores.email_throttles import EmailThrottle
from persistence.stores.push_actions import PendingPush
from persistence.stores.pushers import Pusher
from protocol.events.model import Event
from protocol.sync_tokens import WriterPositions
from protocol.unsubscribe_tokens import secret_of, unsubscribe_url
from tasks.context import TaskContext
from tasks.email_render import MissedMessage, render_email
from tasks.pushers import CLAIM_MS, EVENTS_STREAM, FAMILY, backoff_ms, positions_past, room_facts
from tasks.registry import TaskSpec
from tasks.smtp import MaybeSent, NotSent, send_email

logger = logging.getLogger(__name__)

EMAIL_FOR_USER = "push.email_for_user"
MAX_MESSAGES = 50
THROTTLE_MULTIPLIER = 144
"""Synapse's: the second email about a room within the reset period waits a day (10 min x 144)."""
THROTTLE_MAX_MS = 24 * 3_600_000
THROTTLE_RESET_AFTER_MS = 12 * 3_600_000
"""Notifications one email lists; more wait for the next email."""
SWEEP_BATCH = 1000


def email_for_user(context: TaskContext, *, user_id: str) -> int:
    """Mail each of the user's email pushers what has stayed unread past the delay; answers how many emails."""
    if not context.config.email.enable_notifs:
        return 0
    with context.database.read() as conn:
        pusher_ids = [pusher.id for pusher in context.stores.pushers.list_pushers(conn, user_id)
                      if pusher.kind == "email"]
    return sum(_mail_pusher(context, pusher_id) for pusher_id in pusher_ids)


def _mail_pusher(context: TaskContext, pusher_id: int) -> int:
    config = context.config.email
    stores = context.stores
    now = context.clock.now_ms()
    with context.database.write() as conn:
        pusher = stores.pushers.claim_pusher(conn, pusher_id, now, now + CLAIM_MS)
        if pusher is None:
            return 0
        until = WriterPositions.of_writers(stores.stream_ids.get_positions(conn, EVENTS_STREAM))
        pending = stores.push_actions.list_pending(conn, pusher.user_id, pusher.positions, until,
                                                   limit=MAX_MESSAGES)
        done = until if len(pending) < MAX_MESSAGES else positions_past(pusher.positions, pending[-1])
        unread = _unread(context, conn, pusher.user_id, pending, until)
        found = stores.events.get_events(conn, [action.event_id for action in unread])
        unread = [action for action in unread if action.event_id in found]
        if not unread:
            stores.pushers.update_progress(conn, pusher.id, done)  # all read (or gone): nothing to mail
            return 0
        sent_at = {action.event_id: found[action.event_id].event.origin_server_ts for action in unread}
        throttles = stores.email_throttles.list_throttles(conn, pusher.user_id, {a.room_id for a in unread})
        if not any(_due_at(config.notif_delay_ms, sent_at[a.event_id], throttles.get(a.room_id)) <= now
                   for a in unread):
            stores.pushers.update_progress(conn, pusher.id, pusher.positions)  # not yet missed: release
            return 0
        missed = [_missed(context, conn, action, found[action.event_id].event) for action in unread]
        user_name = _display_name(context, conn, pusher.user_id)
        stores.pushers.update_positions(conn, pusher.id, done)  # the claim stays until the SMTP server answers
    link = unsubscribe_url(context.config.public_baseurl, secret_of(context.signing_key), pusher.user_id,
                           pusher.app_id, pusher.pushkey)
    message = render_email(config, to=pusher.pushkey, user_name=user_name, missed=missed, unsubscribe_link=link)
    try:
        send_email(config, message)
    except NotSent as error:
        failures = pusher.failures + 1
        logger.warning("could not email %s's notifications (retrying in %d s): %s", pusher.user_id,
                       backoff_ms(failures) // 1000, error)
        with context.database.write() as conn:
            stores.pushers.update_progress(conn, pusher.id, pusher.positions)
            stores.pushers.update_backoff(conn, pusher.id, context.clock.now_ms() + backoff_ms(failures), failures)
        return 0
    except MaybeSent as error:
        logger.warning("the SMTP server may have taken %s's email (not sent again): %s", pusher.user_id, error)
    with context.database.write() as conn:
        stores.pushers.update_progress(conn, pusher.id, done)
        first_in_room: dict[str, int] = {}
        for action in unread:
            first_in_room.setdefault(action.room_id, sent_at[action.event_id])
        for room_id, first_ts in first_in_room.items():
            stores.email_throttles.upsert_throttle(conn, pusher.user_id, room_id, EmailThrottle(
                now, next_throttle_ms(throttles.get(room_id), first_ts, config.notif_throttle_ms)))
    return 1


def _due_at(delay_ms: int, sent_ts: int, throttle: EmailThrottle | None) -> int:
    """When a notification may start an email: after the delay, and once its room's throttle is over."""
    return max(sent_ts + delay_ms, throttle.ready_at if throttle is not None else 0)


def next_throttle_ms(throttle: EmailThrottle | None, first_ts: int, start_ms: int) -> int:
    """A room's throttle after an email listing it: ``start_ms`` the first time, or when its first notification
    in this email came :data:`THROTTLE_RESET_AFTER_MS` after the room's previous email; else multiplied by
    :data:`THROTTLE_MULTIPLIER`, at most :data:`THROTTLE_MAX_MS` (Synapse's ``sent_notif_update_throttle``)."""
    if throttle is None or first_ts - throttle.last_sent_ts > THROTTLE_RESET_AFTER_MS:
        return start_ms
    return min(throttle.throttle_ms * THROTTLE_MULTIPLIER, max(THROTTLE_MAX_MS, start_ms))


def _unread(context: TaskContext, conn: Connection, user_id: str, pending: list[PendingPush],
            until: WriterPositions) -> list[PendingPush]:
    """The actions the user has not read: after their read receipt and their own last message in the room."""
    rooms = sorted({action.room_id for action in pending})
    if not rooms:
        return []
    sent = context.stores.events.list_latest_sent(conn, user_id, rooms, until)
    receipts = context.stores.receipts.list_read_positions(conn, user_id, rooms)
    read = {room: max(sent.get(room, -1), receipts.get(room, -1)) for room in rooms}
    return [action for action in pending if action.stream_ordering > read[action.room_id]]


def _missed(context: TaskContext, conn: Connection, action: PendingPush, event: Event) -> MissedMessage:
    facts = room_facts(context, conn, action.room_id, event.sender)
    body = event.content.get("body")
    if event.type == "m.room.encrypted":
        text = "(an encrypted message)"
    elif isinstance(body, str):
        text = body
    elif event.type == "m.room.member" and event.content.get("membership") == "invite":
        text = "(an invitation)"
    else:
        text = f"({event.type})"
    return MissedMessage(action.room_id, facts.get("room_name", action.room_id),
                         facts.get("sender_display_name", event.sender), text)


def _display_name(context: TaskContext, conn: Connection, user_id: str) -> str:
    profile = context.stores.profiles.get_profile(conn, user_id)
    return profile.displayname if profile is not None and profile.displayname else user_id


def sweep_email_pushers(context: TaskContext) -> int:
    """Poke the users whose idle email pusher holds a notification older than ``notif_delay`` (or whose
    delivery died holding its claim); answers how many. Run by beat with the other sweeps."""
    if not context.config.email.enable_notifs:
        return 0
    users = list(dict.fromkeys(_due_users(context)))
    for user_id in users:
        context.dispatcher.send(EMAIL_FOR_USER, user_id=user_id)
    return len(users)


def _due_users(context: TaskContext) -> Iterable[str]:
    stores = context.stores
    now = context.clock.now_ms()
    with context.database.read() as conn:
        until = WriterPositions.of_writers(stores.stream_ids.get_positions(conn, EVENTS_STREAM))
        after = 0
        while True:
            page = stores.pushers.list_idle_pushers(conn, "email", now, after, SWEEP_BATCH)
            for pusher in page:
                if _has_old_pending(context, conn, pusher, until, now):
                    yield pusher.user_id
            if len(page) < SWEEP_BATCH:
                return
            after = page[-1].id


def _has_old_pending(context: TaskContext, conn: Connection, pusher: Pusher, until: WriterPositions,
                     now: int) -> bool:
    """Whether one of the pusher's pending notifications is due: past the delay, in a room not throttled."""
    if pusher.positions.covers(until):
        return False
    pending = context.stores.push_actions.list_pending(conn, pusher.user_id, pusher.positions, until,
                                                       limit=MAX_MESSAGES)
    if not pending:
        return False
    found = context.stores.events.get_events(conn, [action.event_id for action in pending])
    throttles = context.stores.email_throttles.list_throttles(conn, pusher.user_id, {a.room_id for a in pending})
    delay = context.config.email.notif_delay_ms
    return any(action.event_id not in found  # gone: the task moves past it
               or _due_at(delay, found[action.event_id].event.origin_server_ts, throttles.get(action.room_id)) <= now
               for action in pending)


TASKS = (
    TaskSpec(EMAIL_FOR_USER, family=FAMILY, body=email_for_user, shard_param="user_id"),
)
