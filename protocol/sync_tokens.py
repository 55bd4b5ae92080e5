"""``/sync`` token syntax (pure): where a client's view of every stream stands, per stream and per writer.

A stream may have several writers (``stream_writers``); each commits its own ids in increasing order, so "writer
W is at P" means every item W wrote with an id ``<= P`` is committed, whatever the other writers are doing. A
token keeps one such position per writer: a ``floor`` every writer has reached, and the writers ``ahead`` of it.
A writer the token does not name is at the floor — which is also right for a writer added after the token was
made, since every id it allocates is larger than anything allocated before, and for a retired writer folded out of
tokens (``persistence/stream_ids.py``), since everything it wrote lies at or below every later floor (DESIGN.md
guarantee 4: no skipped items, even when writers commit out of order).

Tokens are opaque to clients (spec: "Syncing"): ``g`` and the unpadded URL-safe base64 of a compact JSON object
``{stream: [floor, {writer: position}]}``. They name only positions stored in the database, so any process
accepts any process's token. Anything that does not decode is ``M_INVALID_PARAM``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from protocol.errors import InvalidParam
from protocol.tokens import MAX_POSITION

PREFIX = "g"
EVENTS_STREAM = "events"
"""The stream whose positions place a token in a room's timeline (``/messages``, ``/members?at=``)."""
MAX_TOKEN_LENGTH = 3072
"""The longest token any endpoint accepts, in ``since``, ``from``, ``to`` or ``at`` alike: a sane bound, not a
shape. A token starts near 250 characters and grows by about 40 per writer ahead of its stream's floor (an
instance name and a position, base64-encoded), so 3072 holds some 70 such writers across all streams, far past
any deployment's ``stream_writers``. Two tokens (``/messages``' ``from`` and ``to``) and the path still fit one
request line: web processes read request lines up to 8190 bytes (``ganglion/cli.py``), as nginx's default
``large_client_header_buffers`` does."""


@dataclass(frozen=True)
class WriterPositions:
    """How far each writer of one stream has committed, as seen by one token."""

    floor: int = 0
    ahead: tuple[tuple[str, int], ...] = field(default=())
    """Writers past the floor, sorted by name (a tuple, so tokens hash and compare)."""

    @staticmethod
    def of_writers(positions: Mapping[str, int]) -> WriterPositions:
        """Compress per-writer positions read from the database into floor + writers ahead of it."""
        if not positions:
            return WriterPositions()
        floor = min(positions.values())
        return WriterPositions(floor, tuple(sorted((w, p) for w, p in positions.items() if p > floor)))

    def position_of(self, writer: str) -> int:
        for name, position in self.ahead:
            if name == writer:
                return position
        return self.floor

    def writers(self) -> dict[str, int]:
        return dict(self.ahead)

    @property
    def highest(self) -> int:
        return max([self.floor, *(position for _, position in self.ahead)])

    def covers(self, other: WriterPositions) -> bool:
        """Whether every writer is at least as far here as in ``other``."""
        names = {name for name, _ in self.ahead} | {name for name, _ in other.ahead}
        return self.floor >= other.floor and all(self.position_of(n) >= other.position_of(n) for n in names)

    def encode(self) -> str:
        """Compact JSON ``[floor, {writer: position}]``, as inside a token (for storing positions in a column)."""
        return json.dumps([self.floor, dict(self.ahead)], separators=(",", ":"), sort_keys=True)

    @staticmethod
    def decode(text: str) -> WriterPositions:
        """What :meth:`encode` wrote; ``ValueError`` for anything else."""
        try:
            return _writer_positions(json.loads(text))
        except RecursionError:
            raise ValueError("bad positions") from None

    def includes(self, writer: str, position: int) -> bool:
        """Whether the item ``writer`` stored at ``position`` lies at or before this point."""
        return position <= self.position_of(writer)


@dataclass(frozen=True)
class SyncToken:
    streams: tuple[tuple[str, WriterPositions], ...] = field(default=())

    @staticmethod
    def of(streams: Mapping[str, WriterPositions]) -> SyncToken:
        return SyncToken(tuple(sorted(streams.items())))

    def stream(self, name: str) -> WriterPositions:
        for stream, positions in self.streams:
            if stream == name:
                return positions
        return WriterPositions()

    def covers(self, other: SyncToken) -> bool:
        names = {name for name, _ in self.streams} | {name for name, _ in other.streams}
        return all(self.stream(name).covers(other.stream(name)) for name in names)

    def format(self) -> str:
        data = {name: [positions.floor, dict(positions.ahead)] for name, positions in self.streams}
        raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8")
        return PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _position(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_POSITION:
        raise ValueError("bad position")
    return value


def _writer_positions(value: Any) -> WriterPositions:
    if not isinstance(value, list) or len(value) != 2 or not isinstance(value[1], dict):
        raise ValueError("bad stream entry")
    floor = _position(value[0])
    ahead: Iterable[tuple[str, int]] = ((str(name), _position(pos)) for name, pos in value[1].items())
    return WriterPositions(floor, tuple(sorted((name, pos) for name, pos in ahead if pos > floor)))


def parse_sync_token(text: str, *, name: str = "since") -> SyncToken:
    """A token this server (any of its processes) handed out as ``next_batch``."""
    if not text.startswith(PREFIX) or len(text) > MAX_TOKEN_LENGTH:
        raise InvalidParam(f"Invalid token in '{name}'")
    encoded = text[len(PREFIX):]
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return SyncToken.of({str(stream): _writer_positions(value) for stream, value in data.items()})
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise InvalidParam(f"Invalid token in '{name}'") from None
