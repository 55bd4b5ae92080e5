"""Uploading filters (Client-Server API, "Filtering"): a filter /sync could not use is refused when it is uploaded,
with 400 ``M_BAD_JSON`` naming the field, and nothing is stored."""

from __future__ import annotations

import pytest

from tests.homeserver import HomeserverUnderTest

INVALID_FILTERS = [  # SyTest's tests/80torture/10filters.pl
    {"presence": "not_an_object"},
    {"room": {"timeline": "not_an_object"}},
    {"room": {"state": "not_an_object"}},
    {"room": {"ephemeral": "not_an_object"}},
    {"room": {"account_data": "not_an_object"}},
    {"room": {"timeline": {"rooms": "not_a_list"}}},
    {"room": {"timeline": {"not_rooms": "not_a_list"}}},
    {"room": {"timeline": {"senders": "not_a_list"}}},
    {"room": {"timeline": {"not_senders": "not_a_list"}}},
    {"room": {"timeline": {"types": "not_a_list"}}},
    {"room": {"timeline": {"not_types": "not_a_list"}}},
    {"room": {"timeline": {"types": [0]}}},
    {"room": {"timeline": {"rooms": ["not_a_room_id"]}}},
    {"room": {"timeline": {"senders": ["not_a_sender_id"]}}},
    {"room": {"rooms": ["not_a_room_id"]}},
]


def test_invalid_filters_are_refused_with_bad_json(homeserver: HomeserverUnderTest) -> None:
    account = homeserver.register("alice")
    path = f"/_matrix/client/v3/user/{account['user_id']}/filter"
    for invalid in INVALID_FILTERS:
        response = homeserver.post(path, token=account["access_token"], json=invalid)
        assert (response.status_code, response.json["errcode"]) == (400, "M_BAD_JSON"), invalid
    valid = {"room": {"rooms": ["!abc:test.local", "!v12roomidhash"],
                      "timeline": {"senders": ["@bob:test.local"], "not_rooms": ["!x:y"]}}}
    created = homeserver.post(path, token=account["access_token"], json=valid)
    assert created.status_code == 200, created.json
    assert created.json["filter_id"] == "0", "the refused filters stored nothing"


@pytest.mark.parametrize("field", ["senders", "not_senders"])
def test_sender_lists_hold_user_ids(homeserver: HomeserverUnderTest, field: str) -> None:
    account = homeserver.register("alice")
    response = homeserver.post(f"/_matrix/client/v3/user/{account['user_id']}/filter", token=account["access_token"],
                               json={"presence": {field: ["@fine:test.local", "bob"]}})
    assert (response.status_code, response.json["errcode"]) == (400, "M_BAD_JSON")
