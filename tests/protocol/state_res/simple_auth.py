"""A small stand-in for the authorization rules: just the rules the state resolution scenarios exercise.

Memberships (the creator's first join, public and invite join rules, invites, leaves, kicks, bans), "the sender
must be joined", required power levels for events, and who may change which power level; room creators have
100 without a power levels event (v1-v11) and an infinite level in v12. Third-party invites, knocking, restricted
rooms, federation and the create event's own rules are left out. It raises ``Forbidden`` like the real rules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from protocol.errors import Forbidden
from protocol.events.model import Event, StateKey

CREATE = ("m.room.create", "")
POWER = ("m.room.power_levels", "")
_LEVEL_DEFAULTS = {"users_default": 0, "events_default": 0, "state_default": 50, "ban": 50, "kick": 50, "invite": 0}


class Levels:
    def __init__(self, state: Mapping[StateKey, Event], create: Event) -> None:
        power_levels = state.get(POWER)
        self.content: Mapping[str, Any] | None = None if power_levels is None else power_levels.content
        version = create.room_version
        self.creator = create.sender if not version.create_event_has_creator else create.content.get("creator")
        self.infinite = {create.sender} if version.room_creators_have_infinite_power else set()

    def field(self, name: str) -> int:
        content = self.content or {}
        return int(content.get(name, _LEVEL_DEFAULTS[name]))

    def user(self, user_id: str) -> float:
        if user_id in self.infinite:
            return math.inf
        if self.content is None:
            return 100 if user_id == self.creator else 0
        return int(self.content.get("users", {}).get(user_id, self.field("users_default")))

    def event(self, event_type: str, is_state: bool) -> int:
        default = self.field("state_default") if is_state else self.field("events_default")
        return int((self.content or {}).get("events", {}).get(event_type, default))


def check_simple_auth(event: Event, state: Mapping[StateKey, Event]) -> None:
    if event.type == "m.room.create":
        return
    create = state.get(CREATE)
    if create is None:
        raise Forbidden("no m.room.create event")
    levels = Levels(state, create)
    if event.type == "m.room.member":
        _check_member(event, state, levels, create)
        return
    if _membership(state, event.sender) != "join":
        raise Forbidden(f"{event.sender} is not joined")
    if levels.user(event.sender) < levels.event(event.type, event.is_state):
        raise Forbidden(f"{event.sender} may not send {event.type}")
    if event.type == "m.room.power_levels" and levels.content is not None:
        _check_levels_change(event, levels)


def _membership(state: Mapping[StateKey, Event], user_id: str) -> str | None:
    event = state.get(("m.room.member", user_id))
    return None if event is None else event.membership


def _check_member(event: Event, state: Mapping[StateKey, Event], levels: Levels, create: Event) -> None:
    target, sender, membership = event.state_key or "", event.sender, event.membership
    current = _membership(state, target)
    if membership == "join":
        if event.prev_event_ids == (create.event_id,) and target == levels.creator:
            return
        if sender != target or current == "ban":
            raise Forbidden("may not join")
        join_rules = state.get(("m.room.join_rules", ""))
        join_rule = "invite" if join_rules is None else join_rules.content.get("join_rule", "invite")
        if join_rule == "public" or current in ("invite", "join"):
            return
        raise Forbidden("not invited")
    if sender == target and membership == "leave":
        if current in ("invite", "join", "knock"):
            return
        raise Forbidden("not in the room")
    if _membership(state, sender) != "join":
        raise Forbidden(f"{sender} is not joined")
    sender_level, target_level = levels.user(sender), levels.user(target)
    if membership == "invite":
        if current not in ("join", "ban") and sender_level >= levels.field("invite"):
            return
    elif membership == "leave":
        if current == "ban" and sender_level < levels.field("ban"):
            raise Forbidden("may not unban")
        if sender_level >= levels.field("kick") and target_level < sender_level:
            return
    elif membership == "ban" and sender_level >= levels.field("ban") and target_level < sender_level:
        return
    raise Forbidden(f"{sender} may not {membership} {target}")


def _check_levels_change(event: Event, levels: Levels) -> None:
    old, new = levels.content or {}, event.content
    sender_level = levels.user(event.sender)
    for name in _LEVEL_DEFAULTS:
        if old.get(name) != new.get(name) and max(levels.field(name), int(new.get(name, 0))) > sender_level:
            raise Forbidden(f"may not change {name}")
    old_users, new_users = old.get("users", {}), new.get("users", {})
    for user_id in old_users.keys() | new_users.keys():
        before, after = old_users.get(user_id), new_users.get(user_id)
        if before == after:
            continue
        if before is not None and user_id != event.sender and before >= sender_level:
            raise Forbidden(f"may not change the level of {user_id}")
        if after is not None and after > sender_level:
            raise Forbidden(f"may not give {user_id} {after}")
    old_events, new_events = old.get("events", {}), new.get("events", {})
    for event_type in old_events.keys() | new_events.keys():
        before, after = old_events.get(event_type), new_events.get(event_type)
        if before != after and max(before or 0, after or 0) > sender_level:
            raise Forbidden(f"may not change the level of {event_type}")
