"""Sync tokens: opaque, round-tripping, and read writer by writer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.errors import InvalidParam
from protocol.sync_tokens import SyncToken, WriterPositions, parse_sync_token

positions = st.dictionaries(st.text(min_size=1, max_size=20), st.integers(0, 2**63 - 1), max_size=5)


@given(st.dictionaries(st.sampled_from(["events", "typing", "to_device"]), positions, max_size=3))
def test_a_token_reads_back_the_positions_it_was_made_from(streams: dict[str, dict[str, int]]) -> None:
    token = SyncToken.of({name: WriterPositions.of_writers(writers) for name, writers in streams.items()})
    text = token.format()
    assert text.startswith("g") and all(char.isalnum() or char in "-_" for char in text)
    parsed = parse_sync_token(text)
    assert parsed == token
    for name, writers in streams.items():
        for writer, position in writers.items():
            assert parsed.stream(name).position_of(writer) == position


def test_writers_not_named_stand_at_the_floor() -> None:
    positions = WriterPositions.of_writers({"a": 7, "b": 12, "c": 7})
    assert positions == WriterPositions(7, (("b", 12),))
    assert positions.position_of("a") == positions.position_of("new") == 7
    assert positions.highest == 12
    assert positions.covers(WriterPositions.of_writers({"a": 7, "b": 11}))
    assert not positions.covers(WriterPositions.of_writers({"a": 8}))
    assert SyncToken().stream("events") == WriterPositions()


@pytest.mark.parametrize("text", ["", "s12", "g", "g!!!", "gbm90LWpzb24", "gWzFd", "geyJlIjpbLTEse31dfQ",
                                  "geyJlIjpbMSx7ImEiOnRydWV9XX0", "g" + "A" * 5000])
def test_anything_else_is_an_invalid_parameter(text: str) -> None:
    with pytest.raises(InvalidParam):
        parse_sync_token(text)


@given(positions)
def test_stored_positions_read_back(writers: dict[str, int]) -> None:
    stored = WriterPositions.of_writers(writers)
    assert WriterPositions.decode(stored.encode()) == stored


@pytest.mark.parametrize("text", ["", "[]", "[1]", "[-1,{}]", '[1,{"a":true}]', "{}", "[" * 5000])
def test_unreadable_stored_positions_are_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        WriterPositions.decode(text)
