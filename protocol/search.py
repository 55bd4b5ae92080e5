"""What server-side search indexes and how a search term is read (Client-Server API, "Server Side Search").

Pure. The ``room_events`` category searches ``content.body`` of ``m.room.message``, ``content.name`` of
``m.room.name`` and ``content.topic`` of ``m.room.topic`` (with the ``text/plain`` body of ``m.topic``). A term is
split into words; every word must match, as a prefix, whichever full-text engine the database has.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

SEARCH_KEYS: Final[Mapping[str, str]] = {
    "content.body": "m.room.message",
    "content.name": "m.room.name",
    "content.topic": "m.room.topic",
}
MAX_TERMS = 32
_WORD = re.compile(r"\w+")


def searchable_text(event_type: str, content: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(key, text)`` an event contributes to the index, or None when it is not searchable."""
    for key, indexed_type in SEARCH_KEYS.items():
        if event_type != indexed_type:
            continue
        value = content.get(key.removeprefix("content."))
        parts = [value] if isinstance(value, str) and value else []
        if event_type == "m.room.topic":
            parts.extend(_plain_topic(content.get("m.topic")))
        text = " ".join(dict.fromkeys(parts)).replace("\x00", "")
        return (key, text) if text.strip() else None
    return None


def _plain_topic(value: Any) -> list[str]:
    if not isinstance(value, Mapping) or not isinstance(value.get("m.text"), list):
        return []
    return [item["body"] for item in value["m.text"] if isinstance(item, Mapping)
            and item.get("mimetype", "text/plain") == "text/plain" and isinstance(item.get("body"), str)
            and item["body"]]


def search_words(term: str) -> list[str]:
    """The words of a search term, lowercased and deduplicated: safe to put in any full-text query syntax."""
    return list(dict.fromkeys(word.lower() for word in _WORD.findall(term)))[:MAX_TERMS]
