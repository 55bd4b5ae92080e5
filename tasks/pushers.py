"""HTTP pushers (Client-Server API, "Push Notifications"; Push Gateway API), on the push queues sharded by user id
(``pusher_instances``, ``start_pushers``).

The events writer stores a user's push actions in the event's transaction and, after commit, pokes
:data:`PUSH_FOR_USER` for each recipient who has an http pusher (``tasks/push_actions.py``). This task sends each
of the user's http pushers its pending notifications, one at a time and in stream order:

1. **Claim** (a short transaction): the pusher row is locked, and unless another delivery holds it or it is
   backing off, it is claimed for :data:`CLAIM_MS` and its next pending push action read, up to the events
   stream's committed positions.
2. **Send** the notification to the gateway, outside any transaction.
3. **Record** (a short transaction): the pusher's last-pushed position advances past that action and the claim
   is released; or, if the gateway failed, the pusher backs off (:func:`backoff_ms`); or, if it answered the
   pushkey ``rejected``, the pusher is removed.

So a notification is sent once per pusher however often the poke arrives (DESIGN.md guarantee 3): a second
delivery of the task finds the pusher claimed, or its position already past the action. Only a worker dying
between steps 2 and 3 sends one twice, when the claim runs out and the sweep (:func:`sweep_pushers`, also what
retries a pusher whose backoff is over) pokes the user again. That is chosen: the Push Gateway API has no way to
ask whether the gateway took it, and has the gateway suppress duplicates by ``event_id``, which the resend keeps
(docs/architecture.md, "Pushes, emails and appservice transactions across a crash").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from persistence.stores.push_actions import PendingPush
from persistence.stores.pushers import Pusher
from protocol.sync_tokens import WriterPositions
from tasks.context import TaskContext
from tasks.push_gateway import GatewayAnswer, notify
from tasks.registry import TaskSpec

logger = logging.getLogger(__name__)

PUSH_FOR_USER = "push.push_for_user"
SEND_BADGE = "push.send_badge"
FAMILY = "push"
EVENTS_STREAM = "events"
CLAIM_MS = 60_000
"""How long one delivery may take (the gateway's timeout, with room to spare) before the sweep may retry it."""
MAX_BACKOFF_MS = 3_600_000
SWEEP_BATCH = 1000


def backoff_ms(failures: int) -> int:
    """Wait before retrying a failing gateway: 1 s, doubling per failure, at most an hour."""
    return int(min(MAX_BACKOFF_MS, 1000 * 2 ** min(max(failures - 1, 0), 22)))


@dataclass(frozen=True)
class Claimed:
    pusher: Pusher
    action: PendingPush | None
    until: WriterPositions
    notification: dict[str, Any] | None


def push_for_user(context: TaskContext, *, user_id: str) -> int:
    """Send each of the user's http pushers what it has pending; answers how many notifications were sent."""
    with context.database.read() as conn:
        pusher_ids = [pusher.id for pusher in context.stores.pushers.list_pushers(conn, user_id)
                      if pusher.kind == "http"]
    return sum(_drain(context, pusher_id) for pusher_id in pusher_ids)


def _drain(context: TaskContext, pusher_id: int) -> int:
    sent = 0
    while True:
        claimed = _claim(context, pusher_id)
        if claimed is None or claimed.action is None or claimed.notification is None:
            return sent
        answer = notify(str(claimed.pusher.data.get("url")), claimed.notification,
                        verify_tls=not context.config.insecure_outbound_tls, ranges=context.config.federation)
        _record(context, claimed, answer)
        if not answer.delivered or claimed.pusher.pushkey in answer.rejected:
            return sent
        sent += 1


def _claim(context: TaskContext, pusher_id: int) -> Claimed | None:
    stores = context.stores
    now = context.clock.now_ms()
    with context.database.write() as conn:
        pusher = stores.pushers.claim_pusher(conn, pusher_id, now, now + CLAIM_MS)
        if pusher is None:
            return None
        until = WriterPositions.of_writers(stores.stream_ids.get_positions(conn, EVENTS_STREAM))
        pending = stores.push_actions.list_pending(conn, pusher.user_id, pusher.positions, until, limit=1)
        if not pending:
            stores.pushers.update_progress(conn, pusher_id, until)  # nothing to send up to here: move on
            return Claimed(pusher, None, until, None)
        action = pending[0]
        notification = _notification(context, conn, pusher, action, until)
    return Claimed(pusher, action, until, notification)


def _record(context: TaskContext, claimed: Claimed, answer: GatewayAnswer) -> None:
    pusher, action = claimed.pusher, claimed.action
    assert action is not None
    with context.database.write() as conn:
        if pusher.pushkey in answer.rejected:
            logger.info("push gateway rejected %s's pushkey for %s: removing the pusher", pusher.user_id,
                        pusher.app_id)
            context.stores.pushers.delete_pusher(conn, pusher.user_id, pusher.app_id, pusher.pushkey)
        elif answer.delivered:
            badge = claimed.notification["counts"]["unread"] if claimed.notification else None
            context.stores.pushers.update_progress(conn, pusher.id, positions_past(pusher.positions, action), badge)
        else:
            failures = pusher.failures + 1
            context.stores.pushers.update_backoff(conn, pusher.id, context.clock.now_ms() + backoff_ms(failures),
                                                  failures)


def positions_past(positions: WriterPositions, action: PendingPush) -> WriterPositions:
    """``positions`` moved past ``action`` on its writer."""
    progress = {**positions.writers(), action.instance_name: action.stream_ordering}
    return WriterPositions(positions.floor, tuple(sorted((w, p) for w, p in progress.items() if p > positions.floor)))


def _tweaks(actions: tuple[Any, ...]) -> dict[str, Any]:
    """``set_tweak`` actions as the gateway's ``tweaks`` (spec: a tweak without a value is ``true``)."""
    tweaks: dict[str, Any] = {}
    for action in actions:
        if isinstance(action, dict) and isinstance(action.get("set_tweak"), str):
            tweaks[action["set_tweak"]] = action.get("value", True)
    return tweaks


def _device(pusher: Pusher, tweaks: dict[str, Any]) -> dict[str, Any]:
    """The spec's ``Device``: ``data`` without ``url``, which is for the homeserver only; ``pushkey_ts`` in
    seconds."""
    return {"app_id": pusher.app_id, "pushkey": pusher.pushkey, "pushkey_ts": pusher.pushkey_ts // 1000,
            "data": {key: value for key, value in pusher.data.items() if key != "url"}, "tweaks": tweaks}


def _notification(context: TaskContext, conn: Connection, pusher: Pusher, action: PendingPush,
                  until: WriterPositions) -> dict[str, Any]:
    """The Push Gateway API's ``Notification`` for one push action (``event_id_only``: ids, counts and devices)."""
    tweaks = _tweaks(action.actions)
    counts = {"unread": unread_badge(context, conn, pusher.user_id, until)}
    stored = context.stores.events.get_event(conn, action.event_id)
    event = stored.event if stored is not None else None
    urgent = bool(tweaks.get("highlight") or tweaks.get("sound")) or (event is not None
                                                                       and event.type == "m.room.encrypted")
    notification: dict[str, Any] = {"id": action.event_id, "event_id": action.event_id, "room_id": action.room_id,
                                    "counts": counts, "prio": "high" if urgent else "low",
                                    "devices": [_device(pusher, tweaks)]}
    if pusher.data.get("format") == "event_id_only" or event is None:
        return notification
    notification.update({"type": event.type, "sender": event.sender, "content": event.content})
    if event.state_key is not None and event.type == "m.room.member":
        notification["membership"] = event.content.get("membership")
        notification["user_is_target"] = event.state_key == pusher.user_id
    notification.update(room_facts(context, conn, action.room_id, event.sender))
    if "room_name" not in notification or "sender_display_name" not in notification:
        stripped = (event.pdu.get("unsigned") or {}).get("invite_room_state")
        if isinstance(stripped, list):
            notification.update({**_stripped_facts(stripped, event.sender), **notification})
    return notification


def _stripped_facts(stripped: list[Any], sender: str) -> dict[str, Any]:
    """The room facts an invite from another server brought in its stripped state: for a room this server holds
    no state of, the only source of its name and of the inviter's display name (as Synapse names the room)."""
    content = {(entry.get("type"), entry.get("state_key")): entry.get("content") for entry in stripped
               if isinstance(entry, dict) and isinstance(entry.get("content"), dict)}
    return _named(content, sender)


def room_facts(context: TaskContext, conn: Connection, room_id: str, sender: str) -> dict[str, Any]:
    """``sender_display_name`` and ``room_name`` (the room's name, else its canonical alias), where known."""
    wanted = {("m.room.member", sender), ("m.room.name", ""), ("m.room.canonical_alias", "")}
    ids = context.stores.state.get_current_state_ids_for(conn, room_id, wanted)
    found = context.stores.events.get_events(conn, ids.values())
    content = {key: found[event_id].event.content for key, event_id in ids.items() if event_id in found}
    return _named(content, sender)


def _named(content: Mapping[tuple[Any, Any], Mapping[str, Any]], sender: str) -> dict[str, Any]:
    """``sender_display_name`` and ``room_name`` from state contents keyed by (type, state key)."""
    facts: dict[str, Any] = {}
    display_name = content.get(("m.room.member", sender), {}).get("displayname")
    if isinstance(display_name, str):
        facts["sender_display_name"] = display_name
    name = content.get(("m.room.name", ""), {}).get("name")
    alias = content.get(("m.room.canonical_alias", ""), {}).get("alias")
    if isinstance(name, str) and name:
        facts["room_name"] = name
    elif isinstance(alias, str) and alias:
        facts["room_name"] = alias
    return facts


def unread_badge(context: TaskContext, conn: Connection, user_id: str, until: WriterPositions) -> int:
    """The badge (``counts.unread``): how many rooms hold notifications the user has not read, as Synapse counts
    by default (``push.group_unread_count_by_room``)."""
    stores = context.stores
    rooms = stores.push_actions.list_rooms_with_actions(conn, user_id)
    if not rooms:
        return 0
    sent = stores.events.list_latest_sent(conn, user_id, rooms, until)
    receipts = stores.receipts.list_read_positions(conn, user_id, rooms)
    read: dict[str, int | None] = {}
    for room_id in rooms:
        known = [p for p in (sent.get(room_id), receipts.get(room_id)) if p is not None]
        read[room_id] = max(known) if known else None
    counts = stores.push_actions.count_unread(conn, user_id, read, until)
    return sum(1 for room_counts in counts.values() if room_counts.notification_count > 0)


def send_badge(context: TaskContext, *, user_id: str) -> int:
    """After the user read something, tell each http pusher whose badge changed the new one (Synapse's
    badge-only push: no event, just ``counts``). Best effort: a lost badge update is corrected by the next
    notification."""
    with context.database.read() as conn:
        pushers = [pusher for pusher in context.stores.pushers.list_pushers(conn, user_id) if pusher.kind == "http"]
        if not pushers:
            return 0
        until = WriterPositions.of_writers(context.stores.stream_ids.get_positions(conn, EVENTS_STREAM))
        badge = unread_badge(context, conn, user_id, until)
    found = [pusher for pusher in pushers if pusher.last_badge != badge]
    if found:
        with context.database.write() as conn:
            for pusher in found:
                context.stores.pushers.update_last_badge(conn, pusher.id, badge)
    for pusher in found:
        # The spec's badge-only notification: no event_id (nor the event's fields), just counts and devices.
        notify(str(pusher.data.get("url")), {"counts": {"unread": badge}, "devices": [_device(pusher, {})]},
               verify_tls=not context.config.insecure_outbound_tls, ranges=context.config.federation)
    return len(found)


def poke_pushers(context: TaskContext, recipients: Iterable[tuple[str, ...]]) -> None:
    """After an events transaction commits: have the pusher task of each recipient with an http pusher run. A
    lost poke is not lost work: the push actions are committed, and the user's next poke sends them."""
    for user_id in dict.fromkeys(user for users in recipients for user in users):
        context.dispatcher.send(PUSH_FOR_USER, user_id=user_id)


def sweep_pushers(context: TaskContext) -> int:
    """Poke the users whose pushers are due a retry, whose delivery died holding its claim, or whose pushers are
    behind the events stream with a notification pending (the poke after the event was lost: Redis refused it,
    or a worker died before sending it); answers how many. A poke too many is harmless: the claim and the
    pusher's position make the delivery send nothing twice."""
    now = context.clock.now_ms()
    with context.database.read() as conn:
        users = context.stores.pushers.list_users_due(conn, now, SWEEP_BATCH)
        users.extend(_lagging_users(context, conn, now))
    for user_id in dict.fromkeys(users):
        context.dispatcher.send(PUSH_FOR_USER, user_id=user_id)
    return len(dict.fromkeys(users))


def _lagging_users(context: TaskContext, conn: Connection, now: int) -> list[str]:
    """Users with an idle http pusher that has a notifying push action after its position, up to the events
    stream's committed positions."""
    stores = context.stores
    until = WriterPositions.of_writers(stores.stream_ids.get_positions(conn, EVENTS_STREAM))
    lagging: list[str] = []
    after = 0
    while True:
        page = stores.pushers.list_idle_http_pushers(conn, now, after, SWEEP_BATCH)
        for pusher in page:
            if pusher.positions.covers(until):
                continue
            if stores.push_actions.list_pending(conn, pusher.user_id, pusher.positions, until, limit=1):
                lagging.append(pusher.user_id)
        if len(page) < SWEEP_BATCH:
            return lagging
        after = page[-1].id


TASKS = (
    TaskSpec(PUSH_FOR_USER, family=FAMILY, body=push_for_user, shard_param="user_id"),
    TaskSpec(SEND_BADGE, family=FAMILY, body=send_badge, shard_param="user_id"),
)
