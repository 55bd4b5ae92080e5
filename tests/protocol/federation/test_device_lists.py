"""Remote device lists as received: only the origin's own users, only keys naming their device, and a resync
answer about the user asked for."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.federation.device_lists import (
    BadDeviceList,
    parse_device_list_update,
    parse_signing_key_update,
    parse_user_devices,
)

BOB = "@bob:remote.test"


def _keys(device_id: str, user_id: str = BOB) -> dict[str, Any]:
    return {"user_id": user_id, "device_id": device_id, "keys": {f"ed25519:{device_id}": "k"}}


def test_an_update_is_read_with_its_previous_ids() -> None:
    update = parse_device_list_update("remote.test", {"user_id": BOB, "device_id": "D", "stream_id": 5,
                                                      "prev_id": [3, 4], "keys": _keys("D"),
                                                      "device_display_name": "Phone"})
    assert (update.stream_id, update.prev_ids, update.display_name, update.deleted) == (5, (3, 4), "Phone", False)
    deleted = parse_device_list_update("remote.test", {"user_id": BOB, "device_id": "D", "stream_id": 6,
                                                       "deleted": True, "keys": _keys("D")})
    assert deleted.deleted and deleted.keys is None and deleted.prev_ids == ()


@pytest.mark.parametrize("keys", [{}, {"device_keys": {}}, {"keys": {}, "signatures": {}}])
def test_keys_holding_nothing_mean_no_keys(keys: dict[str, Any]) -> None:
    update = parse_device_list_update("remote.test", {"user_id": BOB, "device_id": "D", "stream_id": 2,
                                                      "keys": keys, "device_display_name": "Phone"})
    assert (update.keys, update.display_name) == (None, "Phone")


@pytest.mark.parametrize("content", [
    {"user_id": BOB, "device_id": "D", "stream_id": 1, "keys": {"device_keys": {}, "user_id": BOB}},
    {"user_id": "@bob:other.test", "device_id": "D", "stream_id": 1},
    {"user_id": "bob", "device_id": "D", "stream_id": 1},
    {"user_id": BOB, "device_id": "", "stream_id": 1},
    {"user_id": BOB, "device_id": "D", "stream_id": "1"},
    {"user_id": BOB, "device_id": "D", "stream_id": True},
    {"user_id": BOB, "device_id": "D", "stream_id": 1, "prev_id": 0},
    {"user_id": BOB, "device_id": "D", "stream_id": 1, "prev_id": ["x"]},
    {"user_id": BOB, "device_id": "D", "stream_id": 1, "keys": _keys("E")},
    {"user_id": BOB, "device_id": "D", "stream_id": 1, "keys": _keys("D", "@eve:remote.test")},
])
def test_updates_about_others_or_with_foreign_keys_are_refused(content: dict[str, Any]) -> None:
    with pytest.raises(BadDeviceList):
        parse_device_list_update("remote.test", content)


def test_a_resync_answer_must_be_about_the_user_asked_for() -> None:
    master = {"user_id": BOB, "usage": ["master"], "keys": {"ed25519:M": "M"}}
    listed = parse_user_devices(BOB, {"user_id": BOB, "stream_id": 9, "master_key": master,
                                      "devices": [{"device_id": "D", "keys": _keys("D")}, {"device_id": "E"},
                                                  {"device_id": "F", "keys": _keys("D")}]})
    assert listed.stream_id == 9 and [device.device_id for device in listed.devices] == ["D", "E", "F"]
    assert [device.keys for device in listed.devices] == [_keys("D"), None, None], "F's keys name another device"
    assert listed.cross_signing == {"master": master}
    for answer in ({"user_id": "@eve:remote.test", "stream_id": 1, "devices": []},
                   {"user_id": BOB, "devices": []},
                   {"user_id": BOB, "stream_id": 1, "devices": [{"keys": _keys("D")}]},
                   {"user_id": BOB, "stream_id": 1, "devices": [], "master_key": {**master, "user_id": "@eve:x"}}):
        with pytest.raises(BadDeviceList):
            parse_user_devices(BOB, answer)


def test_a_signing_key_update_needs_a_key_of_the_origins_user() -> None:
    key = {"user_id": BOB, "usage": ["self_signing"], "keys": {"ed25519:S": "S"}}
    assert parse_signing_key_update("remote.test", {"user_id": BOB, "self_signing_key": key}) == (
        BOB, {"self_signing": key})
    for origin, content in (("other.test", {"user_id": BOB, "self_signing_key": key}),
                            ("remote.test", {"user_id": BOB}),
                            ("remote.test", {"user_id": BOB, "master_key": {**key, "keys": {}}})):
        with pytest.raises(BadDeviceList):
            parse_signing_key_update(origin, content)
