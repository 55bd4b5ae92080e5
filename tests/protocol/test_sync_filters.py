"""The /sync Filter: parsed strictly by type, and event_fields projection with escaped dots."""

from __future__ import annotations

import pytest

from protocol.errors import BadJson
from protocol.sync_filters import SyncFilter, project_fields


def test_a_filter_parses_each_section() -> None:
    parsed = SyncFilter.parse({
        "event_format": "federation", "event_fields": ["type"], "presence": {"not_types": ["*"]},
        "room": {"rooms": ["!a:x"], "include_leave": True, "timeline": {"limit": 3},
                 "state": {"lazy_load_members": True}, "unknown_msc_key": 1}})
    assert parsed.event_format == "federation" and parsed.event_fields == ("type",)
    assert parsed.room.timeline.limit == 3 and parsed.room.state.lazy_load_members
    assert parsed.room.include_leave and parsed.room.wants_room("!a:x") and not parsed.room.wants_room("!b:x")
    assert not parsed.presence.matches("m.presence", "@a:x", {})


@pytest.mark.parametrize("data", [
    [], {"event_format": "xml"}, {"event_fields": "type"}, {"event_fields": [""]}, {"room": []},
    {"room": {"timeline": []}}, {"room": {"include_leave": "yes"}}, {"room": {"rooms": [1]}},
    {"room": {"timeline": {"types": ["a\x00b"]}}}, {"account_data": {"limit": -1}},
    {"room": {"timeline": {"limit": 2**31}}},
])
def test_wrong_types_are_bad_json(data: object) -> None:
    with pytest.raises(BadJson):
        SyncFilter.parse(data)


def test_a_limit_of_zero_is_accepted_and_keeps_nothing() -> None:
    parsed = SyncFilter.parse({"room": {"timeline": {"limit": 0}}, "presence": {"limit": 0}})
    assert parsed.room.timeline.limit == 0
    assert parsed.presence.latest([1, 2, 3]) == [] and parsed.room.state.latest([1, 2, 3]) == [1, 2, 3]


def test_event_fields_keep_only_the_named_paths() -> None:
    event = {"type": "m.room.message", "content": {"body": "hi", "m.relates_to": {"rel_type": "x"}},
             "sender": "@a:x"}
    assert project_fields(event, ("type", "content.body", "content.missing")) == {
        "type": "m.room.message", "content": {"body": "hi"}}
    assert project_fields({"content": {"a.b": 1, "a": {"b": 2}}}, ("content.a\\.b",)) == {"content": {"a.b": 1}}
