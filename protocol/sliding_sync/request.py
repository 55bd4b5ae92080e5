"""A simplified sliding sync request body (MSC4186), parsed and bounded (pure).

Lists and extensions are not sticky (MSC4186 drops MSC3575's sticky parameters): every request carries every list it
wants. Room subscriptions are the exception clients rely on: matrix-js-sdk and the Rust SDK send each once and later
name it in ``unsubscribe_rooms``, so the connection keeps them (:meth:`SlidingRequest.with_subscriptions`). A room
in several lists or subscriptions is served with their union: the largest ``timeline_limit`` and every
``required_state`` pair (as Synapse does). Anything of the wrong shape is ``M_BAD_JSON``, naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from protocol.errors import BadJson
from protocol.sliding_sync.required_state import RequiredState

MAX_TIMELINE_LIMIT = 1000
"""The most events one room's timeline holds per response, whatever the client asks (as ``/sync``)."""
MAX_LISTS = 100
MAX_SUBSCRIPTIONS = 1000
MAX_CONN_ID_LENGTH = 256
MAX_RANGES = 100
EXTENSIONS = ("to_device", "e2ee", "account_data", "receipts", "typing")
ALL = "*"
"""In an extension's ``lists`` or ``rooms``: every list, or every room subscription, of the request."""


@dataclass(frozen=True)
class RoomConfig:
    """How much of a room a list or subscription asks for."""

    timeline_limit: int = 0
    required_state: RequiredState = field(default_factory=RequiredState)

    def combine(self, other: RoomConfig) -> RoomConfig:
        return RoomConfig(max(self.timeline_limit, other.timeline_limit),
                          self.required_state.union(other.required_state))


@dataclass(frozen=True)
class ListFilters:
    """MSC4186 list filters; None means "not filtered on"."""

    is_dm: bool | None = None
    is_encrypted: bool | None = None
    is_invite: bool | None = None
    room_types: tuple[str | None, ...] | None = None
    """``None`` inside the tuple is a room without a type (MSC3575: ``null`` in ``room_types``)."""
    not_room_types: tuple[str | None, ...] = ()
    spaces: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    not_tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class SlidingList:
    name: str
    ranges: tuple[tuple[int, int], ...]
    """Inclusive ``[start, end]`` windows over the sorted list; empty: the list's count only."""
    config: RoomConfig
    filters: ListFilters

    def window(self, count: int) -> list[int]:
        """The indexes of a list of ``count`` rooms that the ranges cover, in order, each once."""
        seen: set[int] = set()
        for start, end in self.ranges:
            seen.update(range(start, min(end, count - 1) + 1))
        return sorted(seen)


@dataclass(frozen=True)
class ExtensionRequest:
    enabled: bool
    lists: tuple[str, ...] | None = None
    """Which lists' rooms it covers (None: all of them)."""
    rooms: tuple[str, ...] | None = None
    """Which subscribed rooms it covers (None: all of them)."""
    since: str | None = None
    """``to_device`` only: the ``next_batch`` the client received last."""
    limit: int = 100

    def covers_list(self, name: str) -> bool:
        return self.lists is None or ALL in self.lists or name in self.lists

    def covers_room(self, room_id: str) -> bool:
        return self.rooms is None or ALL in self.rooms or room_id in self.rooms


@dataclass(frozen=True)
class SlidingRequest:
    conn_id: str | None
    lists: tuple[SlidingList, ...]
    room_subscriptions: tuple[tuple[str, RoomConfig], ...]
    extensions: tuple[tuple[str, ExtensionRequest], ...]
    unsubscribe_rooms: tuple[str, ...] = ()

    def with_subscriptions(self, held: Mapping[str, RoomConfig]) -> tuple[SlidingRequest, dict[str, RoomConfig]]:
        """Room subscriptions stay with the connection until unsubscribed: clients (matrix-js-sdk, the Rust SDK)
        send each once, then ``unsubscribe_rooms``. Answers this request with every subscription in force, and
        those subscriptions."""
        merged = {room_id: config for room_id, config in held.items() if room_id not in self.unsubscribe_rooms}
        merged.update(self.room_subscriptions)
        return replace(self, room_subscriptions=tuple(sorted(merged.items()))), merged

    def extension(self, name: str) -> ExtensionRequest | None:
        for extension_name, extension in self.extensions:
            if extension_name == name and extension.enabled:
                return extension
        return None

    @staticmethod
    def parse(body: Mapping[str, Any]) -> SlidingRequest:
        if _holds_nul(body):
            raise BadJson("Strings must not hold NUL characters")  # no identifier or name can (PostgreSQL text)
        conn_id = _optional(body, "conn_id", str, "a string")
        if conn_id is not None and len(conn_id) > MAX_CONN_ID_LENGTH:
            raise BadJson(f"'conn_id' must be at most {MAX_CONN_ID_LENGTH} characters")
        lists = _optional(body, "lists", dict, "an object") or {}
        if len(lists) > MAX_LISTS:
            raise BadJson(f"At most {MAX_LISTS} lists")
        subscriptions = _optional(body, "room_subscriptions", dict, "an object") or {}
        if len(subscriptions) > MAX_SUBSCRIPTIONS:
            raise BadJson(f"At most {MAX_SUBSCRIPTIONS} room subscriptions")
        for room_id in subscriptions:
            if not room_id.startswith("!") or len(room_id) < 2 or len(room_id) > 255:
                raise BadJson(f"'room_subscriptions' has an invalid room id: {room_id!r}")
        extensions = _optional(body, "extensions", dict, "an object") or {}
        return SlidingRequest(
            conn_id=conn_id,
            lists=tuple(_list(name, _object(value, f"lists.{name}")) for name, value in sorted(lists.items())),
            room_subscriptions=tuple((room_id, _config(_object(value, f"room_subscriptions.{room_id}"),
                                                       f"room_subscriptions.{room_id}"))
                                     for room_id, value in sorted(subscriptions.items())),
            extensions=tuple((name, _extension(_object(extensions[name], f"extensions.{name}"), name))
                             for name in EXTENSIONS if extensions.get(name) is not None),
            unsubscribe_rooms=_strings(body, "unsubscribe_rooms", "") or (),
        )


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise BadJson(f"'{path}' must be an object")
    return value


def _optional(data: Mapping[str, Any], key: str, kind: type, label: str, path: str = "") -> Any:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadJson(f"'{path}{key}' must be {label}")
    return value


def _strings(data: Mapping[str, Any], key: str, path: str, *, nullable: bool = False) -> tuple[Any, ...] | None:
    value = _optional(data, key, list, "a list", path)
    if value is None:
        return None
    if not all(isinstance(item, str) or (nullable and item is None) for item in value):
        raise BadJson(f"'{path}{key}' must be a list of strings")
    return tuple(value)


def _config(data: Mapping[str, Any], path: str) -> RoomConfig:
    limit = _optional(data, "timeline_limit", int, "an integer", f"{path}.")
    if limit is not None and limit < 0:
        raise BadJson(f"'{path}.timeline_limit' must not be negative")
    pairs = _optional(data, "required_state", list, "a list", f"{path}.") or []
    if not all(isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) for part in pair)
               for pair in pairs):
        raise BadJson(f"'{path}.required_state' must be a list of [event type, state key] pairs")
    return RoomConfig(min(limit or 0, MAX_TIMELINE_LIMIT), RequiredState.of(tuple(pair) for pair in pairs))


def _list(name: str, data: Mapping[str, Any]) -> SlidingList:
    path = f"lists.{name}"
    raw_ranges = _optional(data, "ranges", list, "a list", f"{path}.") or []
    if len(raw_ranges) > MAX_RANGES:
        raise BadJson(f"'{path}.ranges' holds at most {MAX_RANGES} ranges")
    ranges = []
    for window in raw_ranges:
        if (not isinstance(window, list) or len(window) != 2
                or not all(isinstance(bound, int) and not isinstance(bound, bool) for bound in window)
                or not 0 <= window[0] <= window[1]):
            raise BadJson(f"'{path}.ranges' must hold [start, end] pairs with 0 <= start <= end")
        ranges.append((window[0], window[1]))
    filters = _optional(data, "filters", dict, "an object", f"{path}.") or {}
    fpath = f"{path}.filters."
    return SlidingList(name, tuple(ranges), _config(data, path), ListFilters(
        is_dm=_optional(filters, "is_dm", bool, "a boolean", fpath),
        is_encrypted=_optional(filters, "is_encrypted", bool, "a boolean", fpath),
        is_invite=_optional(filters, "is_invite", bool, "a boolean", fpath),
        room_types=_strings(filters, "room_types", fpath, nullable=True),
        not_room_types=_strings(filters, "not_room_types", fpath, nullable=True) or (),
        spaces=_strings(filters, "spaces", fpath),
        tags=_strings(filters, "tags", fpath),
        not_tags=_strings(filters, "not_tags", fpath) or (),
    ))


def _extension(data: Mapping[str, Any], name: str) -> ExtensionRequest:
    path = f"extensions.{name}."
    limit = _optional(data, "limit", int, "an integer", path)
    if limit is not None and limit < 1:
        raise BadJson(f"'{path}limit' must be positive")
    return ExtensionRequest(
        enabled=bool(_optional(data, "enabled", bool, "a boolean", path)),
        lists=_strings(data, "lists", path),
        rooms=_strings(data, "rooms", path),
        since=_optional(data, "since", str, "a string", path),
        limit=min(limit or 100, 100),
    )
