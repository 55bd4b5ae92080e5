"""Event filters (pure): the ``RoomEventFilter`` of the Client-Server API, "Filtering", parsed and matched.

Parsing checks types and answers ``M_BAD_JSON`` naming the field; matching is a predicate on an event's type,
sender and content. ``types`` and ``not_types`` may use ``*`` as a wildcard for any run of characters; a
``not_`` list wins over its positive list.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from protocol.errors import BadJson
from protocol.identifiers import is_valid_user_id

T = TypeVar("T")


@lru_cache(maxsize=256)
def _type_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def type_matches(event_type: str, pattern: str) -> bool:
    return _type_pattern(pattern).fullmatch(event_type) is not None


def string_list(data: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) and "\x00" not in item for item in value):
        raise BadJson(f"Filter field '{key}' must be a list of strings (without NUL characters)")
    return tuple(value)


def room_id_list(data: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    """``rooms``/``not_rooms``: room ids (``!`` and an opaque part; v12 ids name no server), as Synapse checks."""
    value = string_list(data, key)
    if value is not None and not all(room_id.startswith("!") and len(room_id) > 1 for room_id in value):
        raise BadJson(f"Filter field '{key}' must be a list of room ids")
    return value


def user_id_list(data: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    """``senders``/``not_senders``: user ids."""
    value = string_list(data, key)
    if value is not None and not all(is_valid_user_id(user_id) for user_id in value):
        raise BadJson(f"Filter field '{key}' must be a list of user ids")
    return value


def optional_flag(data: Mapping[str, Any], key: str) -> bool | None:
    value = data.get(key)
    if value is not None and not isinstance(value, bool):
        raise BadJson(f"Filter field '{key}' must be a boolean")
    return value


@dataclass(frozen=True)
class RoomEventFilter:
    types: tuple[str, ...] | None = None
    not_types: tuple[str, ...] = ()
    senders: tuple[str, ...] | None = None
    not_senders: tuple[str, ...] = ()
    rooms: tuple[str, ...] | None = None
    not_rooms: tuple[str, ...] = ()
    contains_url: bool | None = None
    limit: int | None = None
    lazy_load_members: bool = False
    include_redundant_members: bool = False
    unread_thread_notifications: bool = False

    @staticmethod
    def parse(data: Any) -> RoomEventFilter:
        if not isinstance(data, Mapping):
            raise BadJson("A filter must be a JSON object")
        limit = data.get("limit")
        # 0 is a limit too (Synapse accepts it): a /sync timeline of no events, only state, as clients ask for it.
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit < 2**31):
            raise BadJson("Filter field 'limit' must be a non-negative integer")
        return RoomEventFilter(
            types=string_list(data, "types"),
            not_types=string_list(data, "not_types") or (),
            senders=user_id_list(data, "senders"),
            not_senders=user_id_list(data, "not_senders") or (),
            rooms=room_id_list(data, "rooms"),
            not_rooms=room_id_list(data, "not_rooms") or (),
            contains_url=optional_flag(data, "contains_url"),
            limit=limit,
            lazy_load_members=bool(optional_flag(data, "lazy_load_members")),
            include_redundant_members=bool(optional_flag(data, "include_redundant_members")),
            unread_thread_notifications=bool(optional_flag(data, "unread_thread_notifications")),
        )

    def latest(self, items: list[T]) -> list[T]:
        """The last ``limit`` of ``items`` (all of them without a limit; none for a limit of 0)."""
        return items if self.limit is None else items[len(items) - min(self.limit, len(items)):]

    def matches(self, event_type: str, sender: str, content: Mapping[str, Any], room_id: str | None = None) -> bool:
        if any(type_matches(event_type, pattern) for pattern in self.not_types):
            return False
        if self.types is not None and not any(type_matches(event_type, pattern) for pattern in self.types):
            return False
        if sender in self.not_senders or (self.senders is not None and sender not in self.senders):
            return False
        if room_id is not None and (room_id in self.not_rooms or (self.rooms is not None
                                                                  and room_id not in self.rooms)):
            return False
        if self.contains_url is not None:
            # "includes only events with a url key in their content": a string url, as Synapse reads it.
            has_url = isinstance(content.get("url"), str)
            if has_url != self.contains_url:
                return False
        return True


EVERYTHING = RoomEventFilter()
