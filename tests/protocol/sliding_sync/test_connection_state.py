"""What a sliding sync connection remembers (per room sent, and its subscriptions) survives its encoding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.sliding_sync.connection_state import SentRoom, decode_connection, encode_connection
from protocol.sliding_sync.request import RoomConfig
from protocol.sliding_sync.required_state import RequiredState
from protocol.sync_tokens import WriterPositions

POSITIONS = st.builds(lambda floor, ahead: WriterPositions(floor, tuple(sorted(
    (name, floor + extra) for name, extra in ahead.items()))),
    st.integers(0, 10**9), st.dictionaries(st.sampled_from(["events1", "events2"]), st.integers(1, 100)))
REQUIRED = st.builds(RequiredState.of, st.lists(st.tuples(st.sampled_from(["m.room.name", "*"]),
                                                          st.sampled_from(["", "*", "$LAZY"])), max_size=3))
ROOM_IDS = st.sampled_from([f"!room{number}:x" for number in range(8)])
ROOMS = st.dictionaries(ROOM_IDS, st.builds(
    SentRoom, POSITIONS, st.integers(0, 1000), REQUIRED, st.frozensets(st.sampled_from(["@a:x", "@b:x"])),
    st.booleans()), max_size=5)
SUBSCRIPTIONS = st.dictionaries(ROOM_IDS, st.builds(RoomConfig, st.integers(0, 1000), REQUIRED), max_size=3)


@given(ROOMS, SUBSCRIPTIONS)
def test_the_encoding_round_trips(rooms: dict[str, SentRoom], subscriptions: dict[str, RoomConfig]) -> None:
    assert decode_connection(encode_connection(rooms, subscriptions)) == (rooms, subscriptions)


def test_a_position_shared_by_many_rooms_is_written_once() -> None:
    until = WriterPositions(12345678, (("events2", 12345999),))
    rooms = {f"!r{number}:x": SentRoom(until, 1, RequiredState()) for number in range(50)}
    assert encode_connection(rooms, {}).count("12345999") == 1


@pytest.mark.parametrize("text", ["", "[]", "{}", '{"p": [], "r": {"!a:x": {"u": 0}}, "s": {}}', "{" * 5000])
def test_anything_else_is_unreadable(text: str) -> None:
    with pytest.raises(ValueError):
        decode_connection(text)
