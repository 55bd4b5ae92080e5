"""Pagination token syntax (pure): positions in a room's timeline, as opaque strings clients hand back.

Two spellings are accepted wherever a client passes a ``from`` or ``to`` token to a room read endpoint
(``/messages``, ``/relations``, ``/threads``); tokens are opaque to clients (spec: "Pagination") and valid on every
process, since they name only positions stored in the database:

``t{depth}-{stream_ordering}``
    A *topological* position, Synapse's token shape: the gap in the room's timeline just after the events that
    order at or before ``(depth, stream_ordering)``. Events sort by ``depth`` (their place in the room DAG), ties
    broken by ``stream_ordering`` (the order this server stored them). Returned by ``/messages`` (``start``,
    ``end``), ``/context``, ``/relations`` and ``/threads``.

``s{stream_ordering}``
    A bare *stream* position: the gap just after the event stream reached ``stream_ordering``, as ``/sync``'s
    ``next_batch`` / ``prev_batch`` will carry it. A reader turns it into a topological position by looking up
    the deepest event of the room at or before that stream position (what Synapse does with stream tokens).

Both numbers are decimal integers without leading zeros (``0`` itself is fine) that fit a signed 64-bit column,
non-negative except a topological position's ``stream_ordering``: events backfilled from other servers are stored
with negative stream orderings (``tasks/federation/backfill.py``), so ``t{depth}--{n}`` is a gap among them.
Anything else is ``M_INVALID_PARAM`` (spec: ``/threads`` "The ``from`` token is unknown").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from protocol.errors import InvalidParam

MAX_POSITION = 2**63 - 1
"""The largest number a token may hold: the ``BIGINT`` the positions are stored in."""

_NUMBER = r"(0|[1-9][0-9]{0,18})"
_SIGNED = r"(0|-?[1-9][0-9]{0,18})"
_TOPOLOGICAL = re.compile(rf"t{_NUMBER}-{_SIGNED}")
_STREAM = re.compile(rf"s{_NUMBER}")


@dataclass(frozen=True, order=True)
class RoomPosition:
    """A gap in one room's timeline: events with ``(depth, stream_ordering) <= (depth, stream)`` lie before it.

    Ordered as tuples, so ``a < b`` means ``a`` is earlier in the room.
    """

    depth: int
    stream: int

    def __post_init__(self) -> None:
        if not (0 <= self.depth <= MAX_POSITION and -MAX_POSITION <= self.stream <= MAX_POSITION):
            raise ValueError(f"position out of range: {self.depth}, {self.stream}")

    @staticmethod
    def after(depth: int, stream: int) -> RoomPosition:
        """The gap just after the event ordered at ``(depth, stream)``."""
        return RoomPosition(depth, stream)

    @staticmethod
    def before(depth: int, stream: int) -> RoomPosition:
        """The gap just before the event ordered at ``(depth, stream)``: stream positions are unique, so every
        other event of that depth with a smaller stream ordering (backfilled ones have negative orderings) stays
        before it."""
        return RoomPosition(depth, stream - 1) if stream > -MAX_POSITION else RoomPosition(max(depth - 1, 0),
                                                                                             MAX_POSITION)

    def format(self) -> str:
        return f"t{self.depth}-{self.stream}"


START = RoomPosition(0, 0)
"""Before every event of every room (depths and stream positions start at 1)."""


@dataclass(frozen=True, order=True)
class StreamPosition:
    """A position in the events stream: every event with ``stream_ordering <= stream`` lies before it."""

    stream: int

    def __post_init__(self) -> None:
        if not 0 <= self.stream <= MAX_POSITION:
            raise ValueError(f"stream position out of range: {self.stream}")

    def format(self) -> str:
        return f"s{self.stream}"


PaginationToken = RoomPosition | StreamPosition


def parse_token(text: str, *, name: str = "from") -> PaginationToken:
    """Either token spelling; a malformed one is ``M_INVALID_PARAM`` naming the query parameter."""
    match = _TOPOLOGICAL.fullmatch(text)
    if match is not None:
        depth, stream = int(match.group(1)), int(match.group(2))
        if depth <= MAX_POSITION and abs(stream) <= MAX_POSITION:
            return RoomPosition(depth, stream)
    match = _STREAM.fullmatch(text)
    if match is not None and int(match.group(1)) <= MAX_POSITION:
        return StreamPosition(int(match.group(1)))
    raise InvalidParam(f"Invalid pagination token in '{name}'")


def parse_room_position(text: str, *, name: str = "from") -> RoomPosition:
    """Only the topological spelling (for tokens this server hands out that are never stream positions)."""
    token = parse_token(text, name=name)
    if not isinstance(token, RoomPosition):
        raise InvalidParam(f"Invalid pagination token in '{name}'")
    return token
