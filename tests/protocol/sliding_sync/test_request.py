"""Parsing a simplified sliding sync request body (MSC4186): shapes, bounds, combined room configs, list windows
and the subscriptions a connection keeps."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.errors import BadJson
from protocol.sliding_sync.request import MAX_TIMELINE_LIMIT, RoomConfig, SlidingRequest
from protocol.sliding_sync.required_state import RequiredState


def test_a_full_body_parses() -> None:
    request = SlidingRequest.parse({
        "conn_id": "main",
        "lists": {"all": {"ranges": [[0, 9], [20, 29]], "timeline_limit": 5,
                          "required_state": [["m.room.name", ""]],
                          "filters": {"is_dm": True, "room_types": [None, "m.space"], "not_tags": ["m.lowpriority"]}}},
        "room_subscriptions": {"!r:x": {"timeline_limit": 20, "required_state": [["*", "*"]]}},
        "extensions": {"to_device": {"enabled": True, "since": "gabc"}, "typing": {"enabled": False}},
        "unsubscribe_rooms": ["!old:x"],
    })
    [sliding] = request.lists
    assert sliding.ranges == ((0, 9), (20, 29)) and sliding.config.timeline_limit == 5
    assert sliding.filters.is_dm is True and sliding.filters.room_types == (None, "m.space")
    assert sliding.filters.not_tags == ("m.lowpriority",) and sliding.filters.is_encrypted is None
    assert request.room_subscriptions == (("!r:x", RoomConfig(20, RequiredState.of([("*", "*")]))),)
    to_device = request.extension("to_device")
    assert to_device is not None and to_device.since == "gabc"
    assert request.extension("typing") is None, "a disabled extension is not served"
    assert request.unsubscribe_rooms == ("!old:x",)


@pytest.mark.parametrize("body", [
    {"conn_id": 5},
    {"conn_id": "x" * 257},
    {"lists": []},
    {"lists": {"a": "not an object"}},
    {"lists": {"a": {"ranges": [[3, 1]]}}},
    {"lists": {"a": {"ranges": [[0]]}}},
    {"lists": {"a": {"ranges": [[True, 1]]}}},
    {"lists": {"a": {"timeline_limit": -1}}},
    {"lists": {"a": {"timeline_limit": 1.5}}},
    {"lists": {"a": {"required_state": [["only a type"]]}}},
    {"lists": {"a": {"filters": {"is_dm": "yes"}}}},
    {"lists": {"a": {"filters": {"tags": ["ok", 1]}}}},
    {"room_subscriptions": {"not a room": {}}},
    {"extensions": {"to_device": {"enabled": True, "limit": 0}}},
    {"extensions": {"receipts": {"enabled": True, "lists": "all"}}},
    {"conn_id": "nul\x00"},
])
def test_malformed_bodies_are_bad_json(body: dict[str, Any]) -> None:
    with pytest.raises(BadJson):
        SlidingRequest.parse(body)


def test_timeline_limits_are_bounded() -> None:
    request = SlidingRequest.parse({"lists": {"a": {"timeline_limit": 10**6}}})
    assert request.lists[0].config.timeline_limit == MAX_TIMELINE_LIMIT


def test_a_window_covers_each_index_once_within_the_list() -> None:
    sliding = SlidingRequest.parse({"lists": {"a": {"ranges": [[0, 2], [1, 4], [8, 20]]}}}).lists[0]
    assert sliding.window(10) == [0, 1, 2, 3, 4, 8, 9]
    assert sliding.window(0) == []


def test_configs_combine_to_the_larger_request() -> None:
    small = RoomConfig(1, RequiredState.of([("m.room.name", "")]))
    large = RoomConfig(10, RequiredState.of([("m.room.topic", "")]))
    assert small.combine(large) == RoomConfig(10, RequiredState.of([("m.room.name", ""), ("m.room.topic", "")]))


def test_subscriptions_are_kept_until_unsubscribed() -> None:
    held = {"!a:x": RoomConfig(1), "!b:x": RoomConfig(2)}
    request = SlidingRequest.parse({"room_subscriptions": {"!c:x": {"timeline_limit": 3}},
                                    "unsubscribe_rooms": ["!a:x"]})
    merged_request, merged = request.with_subscriptions(held)
    assert merged == {"!b:x": RoomConfig(2), "!c:x": RoomConfig(3)}
    assert dict(merged_request.room_subscriptions) == merged
