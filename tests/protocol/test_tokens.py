"""Pagination token syntax: both spellings parse, round-trip and order; anything else is M_INVALID_PARAM."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.errors import InvalidParam
from protocol.tokens import MAX_POSITION, START, RoomPosition, StreamPosition, parse_room_position, parse_token

numbers = st.integers(0, MAX_POSITION)
orderings = st.integers(-MAX_POSITION, MAX_POSITION)
"""Stream orderings: negative for events backfilled from other servers."""
positions = st.builds(RoomPosition, numbers, orderings)


@given(positions)
def test_room_positions_round_trip(position: RoomPosition) -> None:
    assert parse_token(position.format()) == position
    assert parse_room_position(position.format()) == position


@given(numbers)
def test_stream_positions_round_trip(stream: int) -> None:
    assert parse_token(StreamPosition(stream).format()) == StreamPosition(stream)


@given(positions, positions)
def test_positions_order_by_depth_then_stream(a: RoomPosition, b: RoomPosition) -> None:
    assert (a < b) == ((a.depth, a.stream) < (b.depth, b.stream))


@given(st.integers(1, MAX_POSITION), st.integers(-MAX_POSITION + 1, MAX_POSITION))
def test_the_gap_before_an_event_sorts_just_below_the_gap_after_it(depth: int, stream: int) -> None:
    before, after = RoomPosition.before(depth, stream), RoomPosition.after(depth, stream)
    assert before < after
    assert before >= RoomPosition(depth, stream - 1)


def test_synapse_shaped_tokens_parse() -> None:
    assert parse_token("t47429-4392820") == RoomPosition(47429, 4392820)
    assert parse_token("s72594") == StreamPosition(72594)
    assert parse_token("t0-0") == START


def test_a_gap_among_backfilled_events_has_a_negative_stream_ordering() -> None:
    assert parse_token("t12--34") == RoomPosition(12, -34)
    assert RoomPosition.before(12, 1) == RoomPosition(12, 0) > RoomPosition.before(12, -34) == RoomPosition(12, -35)
    assert RoomPosition(12, -35) > RoomPosition(11, MAX_POSITION)


@pytest.mark.parametrize("text", [
    "", "t", "s", "t1", "t1-", "t-1", "t1--0", "t1---2", "t01-2", "t1--02", "t1-02", "s01", "x1-2", "T1-2", "S5",
    "t1-2 ", " s5",
    "t1-2_3", "s5_6", "t1.5-2", "s-1", "t1-2-3", f"s{MAX_POSITION + 1}", f"t{MAX_POSITION + 1}-0",
    "t1-99999999999999999999", "t1--99999999999999999999", "s\u0661\u0662", "t\x00-1",
])
def test_malformed_tokens_are_invalid_param(text: str) -> None:
    with pytest.raises(InvalidParam) as raised:
        parse_token(text, name="from")
    assert raised.value.errcode == "M_INVALID_PARAM" and "'from'" in raised.value.message


@given(st.text(max_size=30))
def test_parsing_any_text_either_succeeds_canonically_or_is_invalid_param(text: str) -> None:
    try:
        token = parse_token(text)
    except InvalidParam:
        return
    assert token.format() == text


def test_a_stream_token_is_not_a_room_position() -> None:
    with pytest.raises(InvalidParam):
        parse_room_position("s5")
