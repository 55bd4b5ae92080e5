"""Event size limits (spec: Client-Server API, "Size limits")."""

from __future__ import annotations

import pytest

from protocol.events.limits import MAX_FIELD_BYTES, MAX_PDU_BYTES, EventSizeError, check_size_limits
from protocol.room_versions import KNOWN_ROOM_VERSIONS

V10, V11, V12 = (KNOWN_ROOM_VERSIONS[n] for n in ("10", "11", "12"))


def event(**fields: object) -> dict[str, object]:
    return {"type": "m.room.message", "sender": "@a:b", "room_id": "!r:b", "content": {}, **fields}


def test_events_within_the_limits_pass() -> None:
    check_size_limits(event(state_key="é" * 127, type="t" * MAX_FIELD_BYTES), V12)


def test_an_event_over_64_kib_is_dropped_in_every_version() -> None:
    big = event(content={"body": "x" * MAX_PDU_BYTES})
    for room_version in KNOWN_ROOM_VERSIONS.values():
        with pytest.raises(EventSizeError) as caught:
            check_size_limits(big, room_version)
        assert caught.value.unpersistable


@pytest.mark.parametrize("field", ["sender", "room_id", "state_key", "type", "event_id"])
def test_a_field_over_255_codepoints_is_dropped_in_every_version(field: str) -> None:
    with pytest.raises(EventSizeError) as caught:
        check_size_limits(event(**{field: "x" * (MAX_FIELD_BYTES + 1)}), V10)
    assert caught.value.unpersistable


def test_a_field_over_255_bytes_but_not_codepoints_is_rejected_before_v11_and_dropped_after() -> None:
    multibyte = event(state_key="é" * 128)  # 128 codepoints, 256 bytes
    with pytest.raises(EventSizeError) as lenient:
        check_size_limits(multibyte, V10)
    assert not lenient.value.unpersistable
    with pytest.raises(EventSizeError) as strict:
        check_size_limits(multibyte, V11)
    assert strict.value.unpersistable


def test_size_errors_are_too_large_for_clients() -> None:
    error = EventSizeError("too big", unpersistable=True)
    assert error.to_dict() == {"errcode": "M_TOO_LARGE", "error": "too big"}
    assert error.http_status == 413
