"""What one sliding sync connection has sent its client, per room (pure): the part of MSC4186 that makes responses
incremental.

A room the connection sent is remembered with the events position it was sent up to, the ``timeline_limit`` and
``required_state`` it was sent with, and the members ``$LAZY`` sent. A later response sends such a room only what
changed since then (or, when the client now asks for more, what it had not been sent); a room never sent comes
``initial``. A room that left every list window keeps its record, so coming back it is sent only what it missed, as
Synapse's "previously sent" rooms are. The connection's room subscriptions are kept beside them. The record is
stored per response position (``persistence/stores/ sliding_sync.py``), so a client retrying an older ``pos`` is
answered from what that position knew.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from protocol.sliding_sync.request import RoomConfig
from protocol.sliding_sync.required_state import RequiredState
from protocol.sync_tokens import WriterPositions


@dataclass(frozen=True)
class SentRoom:
    until: WriterPositions
    """The events position the room was last sent (or found unchanged) up to."""
    timeline_limit: int
    required_state: RequiredState
    lazy_members: frozenset[str] = field(default_factory=frozenset)
    stripped: bool = False
    """Sent as an invite or knock (stripped state only): joined later, the room is sent whole, as new."""


def encode_connection(rooms: Mapping[str, SentRoom], subscriptions: Mapping[str, RoomConfig]) -> str:
    """Compact JSON; positions shared by many rooms (usually all of them) are written once."""
    positions: dict[str, int] = {}
    encoded: dict[str, Any] = {}
    for room_id, sent in sorted(rooms.items()):
        text = sent.until.encode()
        index = positions.setdefault(text, len(positions))
        entry: dict[str, Any] = {"u": index, "t": sent.timeline_limit, "r": sent.required_state.to_json()}
        if sent.lazy_members:
            entry["m"] = sorted(sent.lazy_members)
        if sent.stripped:
            entry["i"] = 1
        encoded[room_id] = entry
    held = {room_id: {"t": config.timeline_limit, "r": config.required_state.to_json()}
            for room_id, config in sorted(subscriptions.items())}
    return json.dumps({"p": list(positions), "r": encoded, "s": held}, separators=(",", ":"))


def decode_connection(text: str) -> tuple[dict[str, SentRoom], dict[str, RoomConfig]]:
    """What :func:`encode_connection` wrote; ``ValueError`` for anything else."""
    try:
        data = json.loads(text)
        positions = [WriterPositions.decode(item) for item in data["p"]]
        rooms = {room_id: SentRoom(positions[entry["u"]], int(entry["t"]),
                                   RequiredState.of(tuple(pair) for pair in entry["r"]),
                                   frozenset(entry.get("m", ())), bool(entry.get("i")))
                 for room_id, entry in data["r"].items()}
        subscriptions = {room_id: RoomConfig(int(entry["t"]), RequiredState.of(tuple(pair) for pair in entry["r"]))
                         for room_id, entry in data["s"].items()}
        return rooms, subscriptions
    except (KeyError, IndexError, TypeError, AttributeError, RecursionError, json.JSONDecodeError) as error:
        raise ValueError("unreadable connection state") from error
