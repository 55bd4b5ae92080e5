"""Push rules (pure; Client-Server API, "Push Notifications", "Push Rules" and "Predefined Rules").

A user's effective :class:`Ruleset` is the server-default rules of the spec, in the spec's order, merged with the
rules the user defined, by kind: ``.m.rule.master`` first, then per kind (override, content, room, sender,
underride) the user's rules before the server's ("server-default rules ... operate at a lower priority than
user-defined rules, except for the ``.m.rule.master`` rule"). A user may disable a default rule or replace its
actions, never its conditions. :func:`evaluate` answers the actions of the first enabled rule whose conditions all
hold, as an :class:`Outcome` (notify, highlight, sound); no matching rule means no notification.

Beyond the spec's list the defaults carry the poll rules of MSC3930 under the unstable ids Synapse serves
(polls are not in the spec yet, and clients such as Element look these ids up), placed where Synapse puts them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from protocol.errors import BadJson, InvalidParam
from protocol.identifiers import is_valid_user_id
from protocol.push_conditions import (
    Condition,
    ContainsDisplayName,
    EventView,
    all_hold,
    check_condition,
    event_match,
    parse_condition,
    property_is,
)

KINDS = ("override", "content", "room", "sender", "underride")
"""The kinds of rule, in the order they are checked."""
MASTER = ".m.rule.master"
NOTIFY = "notify"
HISTORICAL_ACTIONS = frozenset({"dont_notify", "coalesce"})
"""Older actions that "clients and homeservers MUST ignore"; accepted on input, dropped when evaluating."""
MAX_RULE_ID_LENGTH = 255
USER_ID = "[the user's Matrix ID]"
"""The spec's placeholder in the definitions below, replaced by the owner's user id."""
POLL_START, POLL_RESPONSE, POLL_END = ("org.matrix.msc3381.poll.start", "org.matrix.msc3381.poll.response",
                                       "org.matrix.msc3381.poll.end")


def _match(key: str, pattern: str) -> dict[str, Any]:
    return {"kind": "event_match", "key": key, "pattern": pattern}


def _is(key: str, value: object) -> dict[str, Any]:
    return {"kind": "event_property_is", "key": key, "value": value}


_SOUND = {"set_tweak": "sound", "value": "default"}
_HIGHLIGHT = {"set_tweak": "highlight"}
_ONE_TO_ONE = {"kind": "room_member_count", "is": "2"}

# (kind, rule_id, enabled, conditions, actions), exactly as the spec defines them ("Predefined Rules").
_DEFAULTS: tuple[tuple[str, str, bool, list[dict[str, Any]], list[Any]], ...] = (
    ("override", MASTER, False, [], []),
    ("override", ".m.rule.suppress_notices", True, [_match("content.msgtype", "m.notice")], []),
    ("override", ".m.rule.invite_for_me", True,
     [_match("type", "m.room.member"), _match("content.membership", "invite"), _match("state_key", USER_ID)],
     [NOTIFY, _SOUND]),
    ("override", ".m.rule.member_event", True, [_match("type", "m.room.member")], []),
    ("override", ".m.rule.is_user_mention", True,
     [{"kind": "event_property_contains", "key": "content.m\\.mentions.user_ids", "value": USER_ID}],
     [NOTIFY, _SOUND, _HIGHLIGHT]),
    ("override", ".m.rule.is_room_mention", True,
     [_is("content.m\\.mentions.room", True), {"kind": "sender_notification_permission", "key": "room"}],
     [NOTIFY, _HIGHLIGHT]),
    ("override", ".m.rule.tombstone", True, [_match("type", "m.room.tombstone"), _match("state_key", "")],
     [NOTIFY, _HIGHLIGHT]),
    ("override", ".m.rule.reaction", True, [_match("type", "m.reaction")], []),
    ("override", ".m.rule.room.server_acl", True, [_match("type", "m.room.server_acl"), _match("state_key", "")],
     []),
    ("override", ".m.rule.suppress_edits", True, [_is("content.m\\.relates_to.rel_type", "m.replace")], []),
    ("override", ".org.matrix.msc3930.rule.poll_response", True, [_match("type", POLL_RESPONSE)], []),
    ("underride", ".m.rule.call", True, [_match("type", "m.call.invite")],
     [NOTIFY, {"set_tweak": "sound", "value": "ring"}]),
    ("underride", ".m.rule.encrypted_room_one_to_one", True, [_ONE_TO_ONE, _match("type", "m.room.encrypted")],
     [NOTIFY, _SOUND]),
    ("underride", ".m.rule.room_one_to_one", True, [_ONE_TO_ONE, _match("type", "m.room.message")],
     [NOTIFY, _SOUND]),
    ("underride", ".m.rule.message", True, [_match("type", "m.room.message")], [NOTIFY]),
    ("underride", ".m.rule.encrypted", True, [_match("type", "m.room.encrypted")], [NOTIFY]),
    ("underride", ".org.matrix.msc3930.rule.poll_start_one_to_one", True, [_ONE_TO_ONE, _match("type", POLL_START)],
     [NOTIFY, _SOUND]),
    ("underride", ".org.matrix.msc3930.rule.poll_start", True, [_match("type", POLL_START)], [NOTIFY]),
    ("underride", ".org.matrix.msc3930.rule.poll_end_one_to_one", True, [_ONE_TO_ONE, _match("type", POLL_END)],
     [NOTIFY, _SOUND]),
    ("underride", ".org.matrix.msc3930.rule.poll_end", True, [_match("type", POLL_END)], [NOTIFY]),
)


@dataclass(frozen=True)
class Outcome:
    """What a matching rule's actions mean for one event and one user."""

    notify: bool
    highlight: bool
    sound: str | None
    actions: tuple[Any, ...]
    """The rule's actions without the historical ones: what a pusher sends on (tweaks included)."""


def outcome_of(actions: Iterable[Any]) -> Outcome:
    """Spec: "Actions". A ``highlight`` tweak without a value means true; none at all means false."""
    kept = tuple(action for action in actions if not (isinstance(action, str) and action in HISTORICAL_ACTIONS))
    notify, highlight, sound = False, False, None
    for action in kept:
        if action == NOTIFY:
            notify = True
        elif isinstance(action, Mapping) and action.get("set_tweak") == "highlight":
            highlight = bool(action.get("value", True))
        elif isinstance(action, Mapping) and action.get("set_tweak") == "sound":
            value = action.get("value")
            sound = value if isinstance(value, str) else None
    return Outcome(notify, highlight, sound, kept)


@dataclass(frozen=True)
class PushRule:
    kind: str
    rule_id: str
    actions: tuple[Any, ...]
    conditions: tuple[Mapping[str, Any], ...] | None = None
    """As defined (override and underride rules); room, sender and content rules imply theirs."""
    pattern: str | None = None
    default: bool = False
    enabled: bool = True
    matchers: tuple[Condition, ...] = field(init=False, repr=False, compare=False)
    outcome: Outcome = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "matchers", tuple(self._matchers()))
        object.__setattr__(self, "outcome", outcome_of(self.actions))

    def _matchers(self) -> list[Condition]:
        if self.kind == "room":
            return [property_is("room_id", self.rule_id)]
        if self.kind == "sender":
            return [property_is("sender", self.rule_id)]
        if self.kind == "content":
            return [event_match("content.body", self.pattern or "")]
        return [parse_condition(condition) for condition in self.conditions or ()]

    @property
    def uses_display_name(self) -> bool:
        return self.enabled and any(isinstance(matcher, ContainsDisplayName) for matcher in self.matchers)

    def to_client(self) -> dict[str, Any]:
        """The rule as ``PushRule`` (definitions/push_rule.yaml), with the keys its kind has."""
        body: dict[str, Any] = {"rule_id": self.rule_id, "default": self.default, "enabled": self.enabled}
        if self.kind in ("override", "underride"):
            body["conditions"] = [dict(condition) for condition in self.conditions or ()]
        elif self.kind == "content":
            body["pattern"] = self.pattern or ""
        body["actions"] = [dict(action) if isinstance(action, Mapping) else action for action in self.actions]
        return body


def _substitute(value: Any, user_id: str) -> Any:
    if value == USER_ID:
        return user_id
    if isinstance(value, dict):
        return {key: _substitute(item, user_id) for key, item in value.items()}
    return value


def _default_rule(kind: str, rule_id: str, enabled: bool, conditions: list[dict[str, Any]], actions: list[Any],
                  user_id: str) -> PushRule:
    return PushRule(kind, rule_id, tuple(actions), tuple(_substitute(c, user_id) for c in conditions),
                    default=True, enabled=enabled)


def _names_user(conditions: list[dict[str, Any]]) -> bool:
    return any(USER_ID in condition.values() for condition in conditions)


# Rules that do not name their owner are built once and shared by every user's ruleset, so the events writer's
# per-event memo of their conditions serves every recipient (protocol/push_conditions.py).
_SHARED = {rule_id: _default_rule(kind, rule_id, enabled, conditions, actions, "")
           for kind, rule_id, enabled, conditions, actions in _DEFAULTS if not _names_user(conditions)}
DEFAULT_RULE_IDS = frozenset((kind, rule_id) for kind, rule_id, *_ in _DEFAULTS)


def default_rules(user_id: str) -> tuple[PushRule, ...]:
    """The server-default rules for ``user_id``, in the spec's order."""
    return tuple(_SHARED.get(rule_id) or _default_rule(kind, rule_id, enabled, conditions, actions, user_id)
                 for kind, rule_id, enabled, conditions, actions in _DEFAULTS)


def is_default_rule(kind: str, rule_id: str) -> bool:
    return (kind, rule_id) in DEFAULT_RULE_IDS


@dataclass(frozen=True)
class DefaultRuleChange:
    """What a user changed of one server-default rule: its enabled flag, its actions, or both."""

    enabled: bool | None = None
    actions: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class Ruleset:
    rules: tuple[PushRule, ...]
    """Every rule in evaluation order, disabled ones included."""
    active: tuple[PushRule, ...] = field(init=False, repr=False, compare=False)
    uses_display_name: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "active", tuple(rule for rule in self.rules if rule.enabled))
        object.__setattr__(self, "uses_display_name", any(rule.uses_display_name for rule in self.rules))

    def find(self, kind: str, rule_id: str) -> PushRule | None:
        return next((rule for rule in self.rules if rule.kind == kind and rule.rule_id == rule_id), None)

    def to_client(self) -> dict[str, list[dict[str, Any]]]:
        """The ``global`` ruleset (definitions/push_ruleset.yaml): each kind's rules in evaluation order."""
        by_kind: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
        for rule in self.rules:
            by_kind[rule.kind].append(rule.to_client())
        return by_kind


def effective_ruleset(user_id: str, user_rules: Sequence[PushRule],
                      changes: Mapping[tuple[str, str], DefaultRuleChange] | None = None) -> Ruleset:
    """Merge the user's rules (each kind in their order, most important first) with the defaults."""
    changes = changes or {}
    defaults = [_changed(rule, changes.get((rule.kind, rule.rule_id))) for rule in default_rules(user_id)]
    ordered: list[PushRule] = [rule for rule in defaults if rule.rule_id == MASTER]
    for kind in KINDS:
        ordered += [rule for rule in user_rules if rule.kind == kind]
        ordered += [rule for rule in defaults if rule.kind == kind and rule.rule_id != MASTER]
    return Ruleset(tuple(ordered))


def _changed(rule: PushRule, change: DefaultRuleChange | None) -> PushRule:
    if change is None:
        return rule
    return dataclasses.replace(
        rule, enabled=rule.enabled if change.enabled is None else change.enabled,
        actions=rule.actions if change.actions is None else change.actions)


def evaluate(ruleset: Ruleset, event: EventView, user_id: str) -> Outcome | None:
    """The outcome of the first enabled rule all of whose conditions hold, or None when no rule matches."""
    for rule in ruleset.active:
        if all_hold(rule.matchers, event, user_id):
            return rule.outcome
    return None


# --- what clients send (``PUT /pushrules/global/{kind}/{ruleId}``) --------------------------------------------
def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidParam(f"Unknown push rule kind {kind[:40]!r}; expected one of {', '.join(KINDS)}")
    return kind


def check_rule_id(rule_id: str) -> str:
    if len(rule_id.encode("utf-8")) > MAX_RULE_ID_LENGTH:
        raise InvalidParam(f"A push rule id may be at most {MAX_RULE_ID_LENGTH} bytes")
    return rule_id


def check_new_rule_id(kind: str, rule_id: str) -> str:
    """A rule id a user may create: not a server-default one, no slashes, and for sender rules the user it is
    about. A room rule's id names the room it matches ("The rule_id of a room rule is always the ID of the room
    that it affects"), but any id is accepted, as Synapse accepts it (SyTest creates ``#spam:example.com``): such
    a rule simply matches no room."""
    check_rule_id(rule_id)
    if rule_id.startswith("."):
        raise InvalidParam("Push rule ids starting with '.' are reserved for server-default rules")
    if not rule_id:
        raise InvalidParam("A push rule id may not be empty")
    if "/" in rule_id or "\\" in rule_id:
        raise InvalidParam("Push rule ids may not contain slashes or backslashes")
    if kind == "sender" and not is_valid_user_id(rule_id):
        raise InvalidParam("The rule id of a sender rule is the sender's user id")
    return rule_id


def check_actions(value: object) -> tuple[Any, ...]:
    """``actions``: strings (``notify``, or the historical ones) and ``{"set_tweak": ...}`` objects."""
    if not isinstance(value, list):
        raise BadJson("'actions' must be a list")
    for index, action in enumerate(value):
        if isinstance(action, str):
            if action != NOTIFY and action not in HISTORICAL_ACTIONS:
                raise InvalidParam(f"actions[{index}]: unknown action {action[:40]!r}")
        elif isinstance(action, Mapping):
            if not isinstance(action.get("set_tweak"), str):
                raise BadJson(f"actions[{index}] must have a string 'set_tweak'")
        else:
            raise BadJson(f"actions[{index}] must be a string or an object")
    return tuple(value)


def check_conditions(value: object) -> tuple[Mapping[str, Any], ...]:
    if not isinstance(value, list):
        raise BadJson("'conditions' must be a list")
    for index, condition in enumerate(value):
        check_condition(condition, index)
    return tuple(value)


def place_rule(order: Sequence[str], rule_id: str, *, before: str | None, after: str | None) -> list[str]:
    """The kind's user rule ids (most important first) with ``rule_id`` placed: just above ``before``, else
    just below ``after``; a new rule without either goes first, an existing one keeps its place. Raises
    ``KeyError`` naming an anchor that is not one of the user's rules of this kind."""
    rest = [existing for existing in order if existing != rule_id]
    anchor = before if before is not None else after
    if anchor is None or (anchor == rule_id and rule_id in order):
        return list(order) if rule_id in order else [rule_id, *rest]
    if anchor not in rest:
        raise KeyError(anchor)
    index = rest.index(anchor) + (0 if before is not None else 1)
    return [*rest[:index], rule_id, *rest[index:]]
