"""The events writer's push step (Client-Server API, "Push Notifications", "Server behaviour"): every local
member of the room but the sender has their push rules evaluated against the new event, in the event's own
transaction, and what notifies or highlights is stored as push actions (so the counts "appear in the same
/sync response as the event itself").

Cost per event, whatever the room size: one query for the joined members with their rule versions, one for
who among them ignores the sender (spec: "Ignoring Users"; only users keeping such a list have a row), none for
rulesets the process has cached at that version (a user who never changed their rules costs no query even on a
cold cache), one multi-row insert. The power levels are read only when a rule asks whether the sender may
notify (an ``@room`` mention), display names only for users whose rules still use ``contains_display_name``, and
a thread only when something is stored. Evaluation itself is pure Python over a per-event view that matches the
shared default rules' conditions once for all recipients.

As Synapse does, the invitee of an invite is evaluated too though not yet joined: ``.m.rule.invite_for_me``
would otherwise never fire.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection

from persistence.stores.push_actions import MAIN_THREAD, PushAction
from persistence.stores.relations import THREAD
from protocol.auth import CREATE_KEY, POWER_LEVELS_KEY, PowerLevels, power_levels_from_state
from protocol.events.model import Event, StateKey
from protocol.push_conditions import EventView
from protocol.push_rules import evaluate
from tasks.context import TaskContext


class LazyRoomFacts:
    """The ``RoomFacts`` port of protocol/push_conditions.py: each part read once per event, when first asked."""

    def __init__(self, context: TaskContext, conn: Connection, room_id: str, sender: str, member_count: int,
                 named: Iterable[str]) -> None:
        self._context, self._conn, self._room_id, self._sender = context, conn, room_id, sender
        self._member_count = member_count
        self._named = list(named)
        self._levels: PowerLevels | None = None
        self._names: dict[str, str] | None = None

    @property
    def member_count(self) -> int:
        return self._member_count

    def sender_may_notify(self, key: str) -> bool:
        if self._levels is None:
            self._levels = power_levels_from_state(self._state({POWER_LEVELS_KEY, CREATE_KEY}))
        return self._levels.user_level(self._sender) >= self._levels.notification_level(key)

    def display_name(self, user_id: str) -> str | None:
        if self._names is None:
            members = self._state({("m.room.member", user) for user in self._named})
            names = {key[1]: event.content.get("displayname") for key, event in members.items()}
            self._names = {user: name for user, name in names.items() if isinstance(name, str)}
        return self._names.get(user_id)

    def _state(self, keys: set[StateKey]) -> dict[StateKey, Event]:
        stores = self._context.stores
        ids = stores.state.get_current_state_ids_for(self._conn, self._room_id, keys)
        found = stores.events.get_events(self._conn, ids.values())
        return {key: found[event_id].event for key, event_id in ids.items() if event_id in found}


def _recipients(context: TaskContext, conn: Connection, room_id: str, event: Event) -> tuple[dict[str, int], int]:
    """Local users to evaluate for (user id -> rule version), and the room's joined member count."""
    push_rules = context.stores.push_rules
    joined = push_rules.list_joined_member_versions(conn, room_id)
    suffix = ":" + context.config.server_name
    recipients = {user: version for user, version in joined.items()
                  if user != event.sender and user.endswith(suffix)}
    invitee = event.state_key if event.membership == "invite" else None
    if invitee and invitee != event.sender and invitee.endswith(suffix) and invitee not in recipients:
        recipients[invitee] = push_rules.get_version(conn, invitee)
    if not event.is_state:  # those who ignore the sender never see the event, so it cannot notify them
        for user in context.stores.account_data.list_users_ignoring(conn, recipients, event.sender):
            del recipients[user]
    return recipients, len(joined)


def thread_id_of(context: TaskContext, conn: Connection, content: Mapping[str, Any]) -> str:
    """The thread an event belongs to (spec: "Receiving notifications"): the root it replies to in a thread,
    or, for an event relating to a thread reply (an edit, a reaction), that reply's thread; else the main
    timeline. One hop, as Synapse goes."""
    relates_to = content.get("m.relates_to")
    if not isinstance(relates_to, Mapping):
        return MAIN_THREAD
    rel_type, parent = relates_to.get("rel_type"), relates_to.get("event_id")
    if not isinstance(rel_type, str) or not isinstance(parent, str):
        return MAIN_THREAD
    if rel_type == THREAD:
        return parent
    return context.stores.relations.get_thread_root(conn, parent) or MAIN_THREAD


def record_push_actions(context: TaskContext, conn: Connection, room_id: str, event: Event,
                        stream_ordering: int) -> tuple[str, ...]:
    """Evaluate the event for its recipients and store what notifies or highlights; answers who of them has an
    http pusher to poke once this commits (``tasks/pushers.py``)."""
    recipients, member_count = _recipients(context, conn, room_id, event)
    if not recipients:
        return ()
    rulesets = context.push_rules.rulesets(conn, recipients)
    room = LazyRoomFacts(context, conn, room_id, event.sender, member_count,
                     (user for user, ruleset in rulesets.items() if ruleset.uses_display_name))
    view = EventView({**event.pdu, "event_id": event.event_id, "room_id": room_id}, room)
    actions = []
    for user_id, ruleset in rulesets.items():
        outcome = evaluate(ruleset, view, user_id)
        if outcome is not None and (outcome.notify or outcome.highlight):
            actions.append(PushAction(user_id, outcome.notify, outcome.highlight, outcome.actions))
    if actions:
        context.stores.push_actions.insert_push_actions(
            conn, event_id=event.event_id, room_id=room_id, stream_ordering=stream_ordering,
            instance_name=context.instance_name, thread_id=thread_id_of(context, conn, event.content),
            actions=actions)
    notified = [action.user_id for action in actions if action.notify]
    return tuple(context.stores.pushers.list_users_with_http_pushers(conn, notified))
