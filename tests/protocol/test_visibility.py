"""History visibility rules (Client-Server API, "Room History Visibility", "Server behaviour")."""

from __future__ import annotations

import pytest

from protocol.visibility import (
    INVITED,
    JOINED,
    SHARED,
    WORLD_READABLE,
    ReaderAt,
    history_visibility_of,
    may_see_event,
    visible_at,
)
from tests.protocol.factories import ALICE, BOB, CREATOR, Room, version

MEMBERSHIPS = (None, "invite", "join", "leave", "ban", "knock")
# (visibility, membership at the event, joined later) -> visible; every combination not listed is hidden.
GRANTED = {
    *((WORLD_READABLE, membership, later) for membership in MEMBERSHIPS for later in (False, True)),
    *((visibility, "join", later) for visibility in (SHARED, INVITED, JOINED) for later in (False, True)),
    *((SHARED, membership, True) for membership in MEMBERSHIPS),
    *((INVITED, "invite", later) for later in (False, True)),
}


@pytest.mark.parametrize("visibility", [WORLD_READABLE, SHARED, INVITED, JOINED])
@pytest.mark.parametrize("membership", MEMBERSHIPS)
@pytest.mark.parametrize("joined_later", [False, True])
def test_each_setting_and_membership_at_the_event(visibility: str, membership: str | None,
                                                   joined_later: bool) -> None:
    expected = (visibility, membership, joined_later) in GRANTED
    assert visible_at(ReaderAt(visibility, membership), joined_later=joined_later) is expected


@pytest.mark.parametrize("content", [None, {}, {"history_visibility": "bogus"}, {"history_visibility": 3}])
def test_missing_or_unknown_setting_means_shared(content: dict[str, object] | None) -> None:
    assert history_visibility_of(content) == SHARED


def test_own_membership_events_are_always_visible() -> None:
    room = Room(version(10))
    invite = room.member(CREATOR, "invite", BOB)
    rejection = room.member(BOB, "leave")
    for event in (invite, rejection):
        assert may_see_event(event, BOB, after=ReaderAt(JOINED, "leave"), joined_later=False)
    assert not may_see_event(invite, ALICE, after=ReaderAt(JOINED, None), joined_later=False)


def test_a_visibility_change_shows_if_the_setting_before_or_after_allows() -> None:
    room = Room(version(10))
    opening = room.event(CREATOR, "m.room.history_visibility", {"history_visibility": WORLD_READABLE},
                         state_key="")
    closing = room.event(CREATOR, "m.room.history_visibility", {"history_visibility": JOINED}, state_key="")
    assert may_see_event(opening, BOB, after=ReaderAt(WORLD_READABLE), joined_later=False,
                         previous_visibilities=[JOINED])
    assert may_see_event(closing, BOB, after=ReaderAt(JOINED), joined_later=False,
                         previous_visibilities=[WORLD_READABLE])
    assert not may_see_event(closing, BOB, after=ReaderAt(JOINED), joined_later=False,
                             previous_visibilities=[SHARED])
    message = room.event(CREATOR, "m.room.message", {"body": "hi"})
    assert not may_see_event(message, BOB, after=ReaderAt(JOINED), joined_later=False,
                             previous_visibilities=[WORLD_READABLE])
