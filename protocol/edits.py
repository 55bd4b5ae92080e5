"""Which edit of an event applies (Client-Server API, "Event replacements"), pure.

A replacement is valid only if it keeps the original's sender and type, neither event is a state event, the
original is no edit itself, and the replacement carries ``m.new_content`` ("Validity of replacement events"). An
encrypted replacement carries ``m.new_content`` inside its ciphertext, which a server cannot read, so it is
taken on trust. Both events being in the same room is the caller's to check (the room id is stored apart from
the PDU). Of the valid replacements the most recent applies: the greatest ``origin_server_ts``, ties going to
the lexicographically largest event id ("Server-side aggregation of m.replace relationships").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from protocol.events.model import Event

REPLACE = "m.replace"
ENCRYPTED = "m.room.encrypted"


def relation_type(event: Event) -> str | None:
    """``content.m.relates_to.rel_type``, when it is a string."""
    relates_to = event.content.get("m.relates_to")
    rel_type = relates_to.get("rel_type") if isinstance(relates_to, Mapping) else None
    return rel_type if isinstance(rel_type, str) else None


def is_valid_replacement(original: Event, replacement: Event) -> bool:
    if replacement.sender != original.sender or replacement.type != original.type:
        return False
    if original.state_key is not None or replacement.state_key is not None:
        return False
    if relation_type(original) == REPLACE:
        return False
    relates_to = replacement.content.get("m.relates_to")
    if not (isinstance(relates_to, Mapping) and relates_to.get("rel_type") == REPLACE
            and relates_to.get("event_id") == original.event_id):
        return False
    return replacement.type == ENCRYPTED or isinstance(replacement.content.get("m.new_content"), Mapping)


def applicable_replacement(original: Event, candidates: Iterable[Event]) -> Event | None:
    """The replacement a server bundles with ``original``: the most recent valid one, or None."""
    valid = [candidate for candidate in candidates if is_valid_replacement(original, candidate)]
    return max(valid, key=lambda event: (event.origin_server_ts, event.event_id), default=None)
