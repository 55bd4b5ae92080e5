"""Push rule conditions (pure; Client-Server API, "Push Notifications", "Conditions"): parsed, checked and matched.

An event is seen through an :class:`EventView`, built once per event and shared by every recipient: it resolves
dot-separated property paths (Appendices, "Dot-separated property paths") once, and memoises the outcome of
conditions that do not depend on who is asking, so the server-default rules cost one match per event however
large the room. What a condition needs of the room (member count, the sender's power, display names) comes
through the :class:`RoomFacts` port.

Globs (Appendices, "Glob-style matching": ``*`` and ``?``) are matched case-insensitively without backtracking
regexes: a pattern is cut at its ``*`` runs into fixed-length pieces, found left to right, each with one
quantifier-free search. A user's pattern therefore costs time linear in the event's body whatever its shape,
which matters because the events writer runs it for every member on every event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar, Protocol

from protocol.errors import BadJson, InvalidParam

MIN_SAFE_INTEGER = -(2**53) + 1
MAX_SAFE_INTEGER = 2**53 - 1
BODY_KEY = "content.body"
"""The one key whose ``event_match`` looks for the pattern between word boundaries, not at the whole value."""

_UNCACHED: Any = object()
MISSING: Any = object()
"""What :meth:`EventView.value` answers for a property the event does not have (JSON ``null`` is None)."""
_WORD_CHAR = "(?-i:[A-Za-z0-9_])"
# A word boundary (spec: "the start or end of the value, or any character not in [A-Z], [a-z], [0-9] or _"):
# any position except one strictly inside a run of word characters.
_BOUNDARY = f"(?:(?<!{_WORD_CHAR})|(?!{_WORD_CHAR}))"
_MEMBER_COUNT = re.compile(r"(==|<=|>=|<|>)?([0-9]+)")


class RoomFacts(Protocol):
    """What conditions read of the room an event is in, beyond the event itself."""

    @property
    def member_count(self) -> int:
        """Joined members of the room."""

    def sender_may_notify(self, key: str) -> bool:
        """Whether the sender's power level reaches ``notifications[key]`` of the room's power levels."""

    def display_name(self, user_id: str) -> str | None:
        """``user_id``'s display name in the room."""


def property_path(key: str) -> tuple[str, ...]:
    """``content.m\\.relates_to.rel_type`` -> ``("content", "m.relates_to", "rel_type")``: ``\\.`` is a literal
    dot and ``\\\\`` a literal backslash; any other escape stays as written (Appendices)."""
    parts: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(key):
        char = key[index]
        if char == "\\" and index + 1 < len(key) and key[index + 1] in ".\\":
            current.append(key[index + 1])
            index += 2
            continue
        if char == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return tuple(parts)


class EventView:
    """One event as every recipient's conditions see it, with per-event memos."""

    def __init__(self, event: Mapping[str, Any], room: RoomFacts) -> None:
        self.event = event
        self.room = room
        self._values: dict[tuple[str, ...], Any] = {}
        self.memo: dict[int, bool] = {}
        """id(condition) -> outcome, for conditions that do not depend on the recipient."""

    def value(self, path: tuple[str, ...]) -> Any:
        """The property at ``path``, or :data:`MISSING`."""
        found = self._values.get(path, _UNCACHED)
        if found is _UNCACHED:
            found = self.event
            for part in path:
                if not isinstance(found, Mapping) or part not in found:
                    found = MISSING
                    break
                found = found[part]
            self._values[path] = found
        return found

    def text(self, path: tuple[str, ...]) -> str | None:
        value = self.value(path)
        return value if isinstance(value, str) else None


def is_simple_value(value: object) -> bool:
    """Non-compound canonical JSON: a string, an integer in the safe range, a boolean or null."""
    if value is None or isinstance(value, bool | str):
        return True
    return isinstance(value, int) and MIN_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER


def _same_simple_value(left: object, right: object) -> bool:
    """Exact equality that keeps JSON types apart (Python's ``True == 1`` must not match)."""
    return type(left) is type(right) and left == right and is_simple_value(left)


# --- globs ---------------------------------------------------------------------------------------------------
def _piece(text: str) -> str:
    return "".join("." if char == "?" else re.escape(char) for char in text)


@dataclass(frozen=True)
class Glob:
    """A compiled glob: fixed-length pieces between ``*`` runs, each a quantifier-free regex."""

    first: re.Pattern[str]
    middles: tuple[re.Pattern[str], ...]
    last: re.Pattern[str] | None
    """None: the pattern has no ``*`` (``first`` is then the whole of it)."""
    first_length: int
    last_length: int
    words: bool

    def matches(self, value: str) -> bool:
        return self._word_match(value) if self.words else self._whole_match(value)

    def _whole_match(self, value: str) -> bool:
        if self.last is None:
            return self.first.fullmatch(value) is not None
        end = len(value) - self.last_length
        if end < self.first_length or not self.first.match(value) or not self.last.match(value, end):
            return False
        return self._middles_end(value, self.first_length, end) is not None

    def _word_match(self, value: str) -> bool:
        start = self.first.search(value)
        if start is None:
            return False
        if self.last is None:
            return True  # ``first`` carries the boundary assertions at both ends
        position = self._middles_end(value, start.end(), len(value))
        return position is not None and self.last.search(value, position) is not None

    def _middles_end(self, value: str, position: int, end: int) -> int | None:
        # Leftmost placement of each piece leaves the most room for the rest, so it finds a match if any exists.
        for middle in self.middles:
            found = middle.search(value, position, end)
            if found is None:
                return None
            position = found.end()
        return position


@lru_cache(maxsize=65536)
def compile_glob(pattern: str, *, words: bool = False) -> Glob:
    """``words``: match any substring that starts and ends at a word boundary (the ``content.body`` rule)."""
    pieces = re.split(r"\*+", pattern)
    flags = re.IGNORECASE | re.DOTALL
    if len(pieces) == 1:
        body = _piece(pattern)
        first = re.compile(f"{_BOUNDARY}{body}{_BOUNDARY}" if words else body, flags)
        return Glob(first, (), None, len(pattern), 0, words)
    head, *middles, tail = pieces
    first = re.compile(f"{_BOUNDARY}{_piece(head)}" if words else _piece(head), flags)
    last = re.compile(f"{_piece(tail)}{_BOUNDARY}" if words else _piece(tail), flags)
    return Glob(first, tuple(re.compile(_piece(middle), flags) for middle in middles if middle), last,
                len(head), len(tail), words)


def glob_matches(pattern: str, value: str, *, words: bool = False) -> bool:
    return compile_glob(pattern, words=words).matches(value)


# --- conditions ----------------------------------------------------------------------------------------------
class Condition:
    """A parsed condition; ``per_user`` ones are matched per recipient, the rest once per event."""

    per_user: ClassVar[bool] = False

    def matches(self, event: EventView, user_id: str) -> bool:
        raise NotImplementedError


@dataclass(frozen=True, eq=False)
class EventMatch(Condition):
    path: tuple[str, ...]
    glob: Glob

    def matches(self, event: EventView, user_id: str) -> bool:
        value = event.text(self.path)
        return value is not None and self.glob.matches(value)


@dataclass(frozen=True, eq=False)
class EventPropertyIs(Condition):
    path: tuple[str, ...]
    value: object

    def matches(self, event: EventView, user_id: str) -> bool:
        return _same_simple_value(event.value(self.path), self.value)


@dataclass(frozen=True, eq=False)
class EventPropertyContains(Condition):
    path: tuple[str, ...]
    value: object

    def matches(self, event: EventView, user_id: str) -> bool:
        found = event.value(self.path)
        return isinstance(found, list) and any(_same_simple_value(item, self.value) for item in found)


@dataclass(frozen=True, eq=False)
class ContainsDisplayName(Condition):
    """The recipient's display name, literally, between word boundaries of ``content.body`` (deprecated in
    v1.17, still defined)."""

    per_user: ClassVar[bool] = True

    def matches(self, event: EventView, user_id: str) -> bool:
        body = event.text(("content", "body"))
        name = event.room.display_name(user_id)
        if not body or not name:
            return False
        return _literal_word_glob(name).matches(body)


@lru_cache(maxsize=4096)
def _literal_word_glob(text: str) -> Glob:
    """A display name is a literal, not a glob: its ``*`` and ``?`` match only themselves."""
    body = re.escape(text)
    return Glob(re.compile(f"{_BOUNDARY}{body}{_BOUNDARY}", re.IGNORECASE | re.DOTALL), (), None, len(text), 0,
                True)


@dataclass(frozen=True, eq=False)
class RoomMemberCount(Condition):
    operator: str
    count: int

    def matches(self, event: EventView, user_id: str) -> bool:
        members = event.room.member_count
        return {"==": members == self.count, "<": members < self.count, ">": members > self.count,
                "<=": members <= self.count, ">=": members >= self.count}[self.operator]


@dataclass(frozen=True, eq=False)
class SenderNotificationPermission(Condition):
    key: str

    def matches(self, event: EventView, user_id: str) -> bool:
        return event.room.sender_may_notify(self.key)


@dataclass(frozen=True, eq=False)
class NeverMatches(Condition):
    """An unrecognised condition, or a known one missing what it needs: it "MUST NOT match any events"."""

    def matches(self, event: EventView, user_id: str) -> bool:
        return False


def all_hold(conditions: tuple[Condition, ...], event: EventView, user_id: str) -> bool:
    """Whether every condition holds, each recipient-independent one matched at most once per event (the hot
    loop of the events writer: written out rather than with ``all()``)."""
    memo = event.memo
    for condition in conditions:
        if condition.per_user:
            if not condition.matches(event, user_id):
                return False
            continue
        found = memo.get(id(condition))
        if found is None:
            found = memo[id(condition)] = condition.matches(event, user_id)
        if not found:
            return False
    return True


def event_match(key: str, pattern: str) -> EventMatch:
    return EventMatch(property_path(key), compile_glob(pattern, words=key == BODY_KEY))


def parse_condition(raw: Mapping[str, Any]) -> Condition:
    """A stored or predefined condition, leniently: whatever cannot be used never matches.

    Equal conditions parse to the same object (for every user that has them), so an event's memo of a
    condition's outcome serves all of those users.
    """
    # The type is part of the key: True == 1 in Python, but not in a condition.
    key = tuple((name, type(value), value) for name, value in sorted(raw.items()))
    try:
        return _shared_condition(key)
    except TypeError:  # an unhashable value, which no condition accepts (a list, an object): uncached
        return _parse_leniently(raw)


@lru_cache(maxsize=65536)
def _shared_condition(key: tuple[tuple[str, type, Any], ...]) -> Condition:
    return _parse_leniently({name: value for name, _, value in key})


def _parse_leniently(raw: Mapping[str, Any]) -> Condition:
    try:
        return _parse(raw)
    except (BadJson, InvalidParam):
        return NeverMatches()


@lru_cache(maxsize=65536)
def property_is(key: str, value: str) -> EventPropertyIs:
    """The implied condition of a room (``room_id``) or sender (``sender``) rule, shared like the others."""
    return EventPropertyIs(property_path(key), value)


def check_condition(raw: object, index: int) -> None:
    """A condition a client sends (``PUT /pushrules``): known kinds must carry their parameters with the right
    types; unknown kinds are kept, as the spec lets later versions add them."""
    if not isinstance(raw, Mapping):
        raise BadJson(f"conditions[{index}] must be an object")
    kind = raw.get("kind")
    if not isinstance(kind, str):
        raise BadJson(f"conditions[{index}] must have a string 'kind'")
    try:
        _parse(raw)
    except (BadJson, InvalidParam) as error:
        raise type(error)(f"conditions[{index}] ({kind}): {error.message}") from None


def _text_param(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str):
        raise BadJson(f"needs a string '{name}'")
    return value


def _simple_param(raw: Mapping[str, Any]) -> object:
    if "value" not in raw:
        raise BadJson("needs a 'value'")
    value = raw["value"]
    if not is_simple_value(value):
        raise BadJson("'value' must be a string, a safe integer, a boolean or null")
    return value


def _parse(raw: Mapping[str, Any]) -> Condition:
    kind = raw.get("kind")
    if kind == "event_match":
        return event_match(_text_param(raw, "key"), _text_param(raw, "pattern"))
    if kind == "event_property_is":
        return EventPropertyIs(property_path(_text_param(raw, "key")), _simple_param(raw))
    if kind == "event_property_contains":
        return EventPropertyContains(property_path(_text_param(raw, "key")), _simple_param(raw))
    if kind == "contains_display_name":
        return ContainsDisplayName()
    if kind == "room_member_count":
        found = _MEMBER_COUNT.fullmatch(_text_param(raw, "is"))
        if found is None:
            raise InvalidParam("'is' must be a decimal integer, optionally after ==, <, >, <= or >=")
        return RoomMemberCount(found.group(1) or "==", int(found.group(2)))
    if kind == "sender_notification_permission":
        return SenderNotificationPermission(_text_param(raw, "key"))
    return NeverMatches()
