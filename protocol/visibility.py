"""History visibility: whether a user may see an event, from the room's state at that event.

Spec: Client-Server API, "Room History Visibility", "Server behaviour". The rules read the state *at* the event
(its ``m.room.history_visibility`` and the user's ``m.room.member``), so a change of setting never reaches back
over events already sent. Callers gather those facts in batches; this module only decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from protocol.events.model import Event, StateKey

WORLD_READABLE = "world_readable"
SHARED = "shared"
INVITED = "invited"
JOINED = "joined"
HISTORY_VISIBILITIES = frozenset({WORLD_READABLE, SHARED, INVITED, JOINED})
HISTORY_VISIBILITY_TYPE = "m.room.history_visibility"
HISTORY_VISIBILITY_KEY: StateKey = (HISTORY_VISIBILITY_TYPE, "")


def member_key(user_id: str) -> StateKey:
    return ("m.room.member", user_id)


def history_visibility_of(content: Mapping[str, Any] | None) -> str:
    """The setting an ``m.room.history_visibility`` content holds: ``shared`` when absent or not understood."""
    value = content.get("history_visibility") if content is not None else None
    return value if isinstance(value, str) and value in HISTORY_VISIBILITIES else SHARED


@dataclass(frozen=True)
class ReaderAt:
    """What the rules read at one event: the room's history visibility and the reader's membership then."""

    history_visibility: str = SHARED
    membership: str | None = None


def visible_at(at: ReaderAt, *, joined_later: bool) -> bool:
    """Rules 1-5 of "Server behaviour"; ``joined_later``: the user joined the room at some point after the event."""
    if at.history_visibility == WORLD_READABLE:
        return True
    if at.membership == "join":
        return True
    if at.history_visibility == SHARED and joined_later:
        return True
    return at.history_visibility == INVITED and at.membership == "invite"


def may_see_event(event: Event, user_id: str, *, after: ReaderAt, joined_later: bool,
                  previous_visibilities: Iterable[str] = ()) -> bool:
    """Whether ``user_id`` may see ``event``, given the facts in the state after it.

    The user's own membership events are always visible: they must see their join, their leave, the invite they
    rejected, whatever the setting (as Synapse allows; the spec's "before or after" rule grants the first two).
    A history visibility event is visible if the setting before it (``previous_visibilities``, one per state
    it was sent on) or after it allows.
    """
    if event.type == "m.room.member" and event.state_key == user_id:
        return True
    if visible_at(after, joined_later=joined_later):
        return True
    if event.type == HISTORY_VISIBILITY_TYPE and event.state_key == "":
        return any(visible_at(ReaderAt(previous, after.membership), joined_later=joined_later)
                   for previous in previous_visibilities)
    return False
