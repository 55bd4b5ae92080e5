"""Event size limits (spec: Client-Server API, "Size limits") on every path a client creates events by: an event
over 65,536 bytes, or with a type, state key, sender or room id over 255 bytes, is refused with 413
``M_TOO_LARGE`` and nothing is stored."""

from __future__ import annotations

from typing import Any

from tests.homeserver import HomeserverUnderTest

CLIENT = "/_matrix/client/v3"
OVERSIZED = "A" * 70000


def _room(server: HomeserverUnderTest, token: str, **body: Any) -> str:
    response = server.post(f"{CLIENT}/createRoom", token=token, json=body)
    assert response.status_code == 200, response.json
    return str(response.json["room_id"])


def _event_count(server: HomeserverUnderTest, room_id: str) -> int:
    with server.deps.database.read() as conn:
        return len(server.deps.stores.events.list_room_timeline(conn, room_id, from_=None, to=None, limit=1000,
                                                                backwards=True))


def _assert_too_large(response: Any) -> None:
    assert (response.status_code, response.json["errcode"]) == (413, "M_TOO_LARGE"), response.json


def test_a_message_over_64_kib_is_refused_and_not_stored(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    before = _event_count(homeserver, room_id)
    _assert_too_large(homeserver.put(f"{CLIENT}/rooms/{room_id}/send/m.room.message/t1", token=alice,
                                     json={"msgtype": "m.text", "body": OVERSIZED}))
    assert _event_count(homeserver, room_id) == before
    fits = homeserver.put(f"{CLIENT}/rooms/{room_id}/send/m.room.message/t2", token=alice,
                          json={"msgtype": "m.text", "body": "A" * 60000})
    assert fits.status_code == 200, "a large event under the limit still goes through"


def test_oversized_state_and_field_limits_are_refused(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    before = _event_count(homeserver, room_id)
    _assert_too_large(homeserver.put(f"{CLIENT}/rooms/{room_id}/state/oooooooh", token=alice,
                                     json={"key": OVERSIZED}))
    # 128 codepoints but 256 bytes: the limit is in bytes.
    _assert_too_large(homeserver.put(f"{CLIENT}/rooms/{room_id}/state/m.custom/{'é' * 128}", token=alice,
                                     json={}))
    _assert_too_large(homeserver.put(f"{CLIENT}/rooms/{room_id}/send/{'t' * 256}/t1", token=alice, json={}))
    assert _event_count(homeserver, room_id) == before


def test_an_oversized_membership_event_is_refused(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    refused = homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=bob, json={"padding": OVERSIZED})
    _assert_too_large(refused)
    assert homeserver.get(f"{CLIENT}/joined_rooms", token=bob).json == {"joined_rooms": []}


def test_create_room_with_oversized_initial_state_creates_nothing(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    response = homeserver.post(f"{CLIENT}/createRoom", token=alice, json={
        "room_alias_name": "big",
        "initial_state": [{"type": "m.custom", "state_key": "", "content": {"key": OVERSIZED}}],
    })
    _assert_too_large(response)
    assert homeserver.get(f"{CLIENT}/joined_rooms", token=alice).json == {"joined_rooms": []}
    alias = homeserver.get(f"{CLIENT}/directory/room/%23big:test.local", token=alice)
    assert alias.status_code == 404, "the alias reserved for the refused room is freed"
    _assert_too_large(homeserver.post(f"{CLIENT}/createRoom", token=alice,
                                      json={"creation_content": {"padding": OVERSIZED}}))
    assert homeserver.get(f"{CLIENT}/joined_rooms", token=alice).json == {"joined_rooms": []}


def test_numbers_outside_canonical_json_are_refused_from_room_version_6(homeserver: HomeserverUnderTest) -> None:
    """rooms/v6 "Canonical JSON": integers beyond ±(2**53 - 1) and floats are 400 ``M_BAD_JSON``, nothing stored,
    on either send path; a v5 room, built before that rule, still takes them."""
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice, room_version="6")
    before = _event_count(homeserver, room_id)
    for number in (2**53, -(2**53), 1.1):
        for response in (homeserver.post(f"{CLIENT}/rooms/{room_id}/send/sytest.dummy", token=alice,
                                         json={"body": number}),
                         homeserver.put(f"{CLIENT}/rooms/{room_id}/state/org.example.n", token=alice,
                                        json={"nested": [{"n": number}]})):
            assert (response.status_code, response.json["errcode"]) == (400, "M_BAD_JSON"), (number, response.json)
    assert _event_count(homeserver, room_id) == before
    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/send/sytest.dummy", token=alice,
                           json={"body": 2**53 - 1}).status_code == 200
    old_room = _room(homeserver, alice, room_version="5")
    assert homeserver.post(f"{CLIENT}/rooms/{old_room}/send/sytest.dummy", token=alice,
                           json={"body": 2**53}).status_code == 200
