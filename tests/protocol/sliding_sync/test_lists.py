"""Which rooms a sliding sync list holds (MSC4186 filters) and in what order (recency, then room id)."""

from __future__ import annotations

from protocol.sliding_sync.lists import RoomFacts, passes, sort_by_recency
from protocol.sliding_sync.request import ListFilters


def _room(room_id: str, bump: int = 1, **facts: object) -> RoomFacts:
    defaults: dict[str, object] = {"membership": "join", "is_dm": False, "is_encrypted": False, "room_type": None,
                                   "tags": frozenset(), "parent_spaces": frozenset()}
    return RoomFacts(room_id=room_id, bump_stamp=bump, **{**defaults, **facts})  # type: ignore[arg-type]


def test_every_filter_must_hold() -> None:
    dm = _room("!dm:x", is_dm=True, is_encrypted=True, tags=frozenset({"m.favourite"}))
    assert passes(ListFilters(), dm)
    assert passes(ListFilters(is_dm=True, is_encrypted=True, tags=("m.favourite",)), dm)
    assert not passes(ListFilters(is_dm=True, is_encrypted=False), dm)
    assert not passes(ListFilters(not_tags=("m.favourite",)), dm)
    assert not passes(ListFilters(is_invite=True), dm)
    assert passes(ListFilters(is_invite=True), _room("!i:x", membership="invite"))


def test_room_types_and_spaces() -> None:
    space = _room("!space:x", room_type="m.space")
    child = _room("!child:x", parent_spaces=frozenset({"!space:x"}))
    assert passes(ListFilters(room_types=("m.space",)), space)
    assert not passes(ListFilters(room_types=("m.space",)), child)
    assert passes(ListFilters(room_types=(None,)), child), "null names rooms without a type"
    assert not passes(ListFilters(not_room_types=("m.space",)), space)
    assert passes(ListFilters(spaces=("!space:x",)), child)
    assert not passes(ListFilters(spaces=("!other:x",)), child)


def test_the_most_recent_room_comes_first_and_ties_are_ordered_by_id() -> None:
    rooms = [_room("!b:x", 5), _room("!a:x", 5), _room("!c:x", 9), _room("!d:x", 1)]
    assert [room.room_id for room in sort_by_recency(rooms)] == ["!c:x", "!a:x", "!b:x", "!d:x"]
