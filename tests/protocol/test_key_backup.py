"""The spec's rule for which of two backed-up keys of one session the server keeps, as properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.errors import BadJson, MissingParam
from protocol.key_backup import RoomKeyData, parse_room_key, replaces

keys = st.builds(RoomKeyData, st.integers(0, 5), st.integers(0, 5), st.booleans(), st.just({"ciphertext": "c"}))


def _rank(key: RoomKeyData) -> tuple[bool, int, int]:
    """Smaller is better: verified first, then the lower first_message_index, then the lower forwarded_count."""
    return (not key.is_verified, key.first_message_index, key.forwarded_count)


@given(keys, keys)
def test_a_key_replaces_exactly_a_worse_one(new: RoomKeyData, existing: RoomKeyData) -> None:
    assert replaces(new, existing) == (_rank(new) < _rank(existing))


@given(keys)
def test_any_key_replaces_nothing_stored(new: RoomKeyData) -> None:
    assert replaces(new, None)


@given(st.lists(keys, min_size=1))
def test_the_best_key_survives_any_upload_order(uploads: list[RoomKeyData]) -> None:
    stored = None
    for key in uploads:
        if replaces(key, stored):
            stored = key
    assert stored is not None and _rank(stored) == min(_rank(key) for key in uploads)


def test_parsing_names_the_field_that_is_wrong() -> None:
    good = {"first_message_index": 1, "forwarded_count": 0, "is_verified": True, "session_data": {"a": "b"}}
    assert parse_room_key(good, "") == RoomKeyData(1, 0, True, {"a": "b"})
    with pytest.raises(MissingParam, match=r"sessions\.s\.forwarded_count"):
        parse_room_key({**good, "forwarded_count": None}, "sessions.s")
    for field, value in (("first_message_index", -1), ("first_message_index", True), ("forwarded_count", 2**53),
                         ("is_verified", 1)):
        with pytest.raises(BadJson, match=field):
            parse_room_key({**good, field: value}, "")
    with pytest.raises(BadJson):
        parse_room_key([], "sessions.s")
