"""``required_state`` (MSC4186): which state entries of a room a list or subscription asks for (pure).

Each pair is ``[event type, state key]``. ``*`` as the type with ``*`` as the key asks for every entry; ``*`` as
the key asks for every entry of that type; ``*`` as the type with a given key asks for that key under every type.
``$ME`` as a key is the requesting user's id; ``m.room.member`` with ``$LAZY`` asks for the memberships of the
timeline's senders (lazy-loaded members), which the server sends once per connection per member.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

WILDCARD = "*"
ME = "$ME"
LAZY = "$LAZY"
MEMBER = "m.room.member"


@dataclass(frozen=True)
class RequiredState:
    pairs: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    @staticmethod
    def of(pairs: Iterable[tuple[str, ...]]) -> RequiredState:
        return RequiredState(frozenset((pair[0], pair[1]) for pair in pairs))

    def union(self, other: RequiredState) -> RequiredState:
        return RequiredState(self.pairs | other.pairs)

    @property
    def lazy_members(self) -> bool:
        return (MEMBER, LAZY) in self.pairs

    def matches(self, key: tuple[str, str], user_id: str) -> bool:
        """Whether the state entry ``key`` (type, state key) is asked for (``$LAZY`` aside)."""
        event_type, state_key = key
        for wanted_type, wanted_key in self.pairs:
            if wanted_key == LAZY:
                continue
            if wanted_key == ME:
                wanted_key = user_id
            if wanted_type in (WILDCARD, event_type) and wanted_key in (WILDCARD, state_key):
                return True
        return False

    def select(self, state: dict[tuple[str, str], str], user_id: str,
               lazy_members: Iterable[str] = ()) -> dict[tuple[str, str], str]:
        """The entries of ``state`` asked for, plus the memberships of ``lazy_members`` when ``$LAZY`` is."""
        chosen = {key: event_id for key, event_id in state.items() if self.matches(key, user_id)}
        if self.lazy_members:
            for member in lazy_members:
                event_id = state.get((MEMBER, member))
                if event_id is not None:
                    chosen[(MEMBER, member)] = event_id
        return chosen

    def added_since(self, earlier: RequiredState) -> RequiredState:
        """The pairs asked for now that were not before: their entries are sent whole, as if new."""
        return RequiredState(self.pairs - earlier.pairs)

    def to_json(self) -> list[list[str]]:
        return [list(pair) for pair in sorted(self.pairs)]
