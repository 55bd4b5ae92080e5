"""Every token /sync hands out is accepted wherever the spec takes a token, in both shapes (DESIGN.md guarantee
4): ``next_batch`` and ``prev_batch`` as ``/messages``' ``from`` and ``to``, ``/members``' ``at`` and
``/relations``' ``from``, whatever their length up to the one documented bound."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from protocol.sync_tokens import MAX_TOKEN_LENGTH, SyncToken, WriterPositions
from tests.homeserver import HomeserverUnderTest
from tests.web.test_sync import _room, _send, _sync

CLIENT = "/_matrix/client/v3"


def _page(server: HomeserverUnderTest, token: str, room_id: str, **query: str) -> dict[str, Any]:
    url = f"{CLIENT}/rooms/{room_id}/messages?" + "&".join(f"{key}={quote(value)}" for key, value in query.items())
    response = server.get(url, token=token)
    assert response.status_code == 200, response.json
    return response.json  # type: ignore[no-any-return]


def _texts(page: dict[str, Any]) -> list[str]:
    return [event["content"]["body"] for event in page["chunk"] if event["type"] == "m.room.message"]


def test_next_batch_pages_messages_both_ways(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    for body in ("one", "two"):
        _send(homeserver, alice, room_id, body)
    next_batch = _sync(homeserver, alice)["next_batch"]
    _send(homeserver, alice, room_id, "three")
    back = _page(homeserver, alice, room_id, dir="b", limit="2", **{"from": next_batch})
    assert _texts(back) == ["two", "one"] and back["start"] == next_batch
    forward = _page(homeserver, alice, room_id, dir="f", **{"from": next_batch})
    assert _texts(forward) == ["three"] and "end" in forward, "forwards at the live end: more may come"
    assert _page(homeserver, alice, room_id, dir="f", **{"from": forward["end"]})["chunk"] == []
    bounded = _page(homeserver, alice, room_id, dir="b", to=next_batch)
    assert _texts(bounded) == ["three"], "to= a next_batch stops where that sync stood"


def test_prev_batch_and_next_batch_bound_a_page(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    first = _sync(homeserver, alice)
    for body in ("a", "b", "c"):
        _send(homeserver, alice, room_id, body)
    second = _sync(homeserver, alice, first["next_batch"], filter={"room": {"timeline": {"limit": 1}}})
    timeline = second["rooms"]["join"][room_id]["timeline"]
    gap = _page(homeserver, alice, room_id, dir="b", to=first["next_batch"], **{"from": timeline["prev_batch"]})
    assert _texts(gap) == ["b", "a"], "exactly the gap the limited sync left"


def test_members_at_a_next_batch_are_the_members_of_then(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    then = _sync(homeserver, alice)["next_batch"]
    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=bob, json={}).status_code == 200
    members = homeserver.get(f"{CLIENT}/rooms/{room_id}/members?at={then}&not_membership=leave", token=alice)
    assert members.status_code == 200, members.json
    assert [event["state_key"] for event in members.json["chunk"]] == ["@alice:test.local"]


def test_members_at_a_token_from_before_the_room_are_none(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    before = _sync(homeserver, alice)["next_batch"]
    room_id = _room(homeserver, alice, preset="public_chat")
    for at in (before, "t0-0"):
        response = homeserver.get(f"{CLIENT}/rooms/{room_id}/members?at={at}", token=alice)
        assert (response.status_code, response.json) == (200, {"chunk": []}), at


def test_relations_page_from_a_next_batch(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    parent = _send(homeserver, alice, room_id, "parent")
    next_batch = _sync(homeserver, alice)["next_batch"]
    reply = homeserver.put(f"{CLIENT}/rooms/{room_id}/send/m.room.message/r1", token=alice, json={
        "msgtype": "m.text", "body": "in thread",
        "m.relates_to": {"rel_type": "m.thread", "event_id": parent}}).json["event_id"]
    response = homeserver.get(f"/_matrix/client/v1/rooms/{room_id}/relations/{parent}?dir=f&from={next_batch}",
                             token=alice)
    assert response.status_code == 200, response.json
    assert [event["event_id"] for event in response.json["chunk"]] == [reply]


def _token_with_writers(count: int) -> str:
    """A token as a deployment with ``count`` writers of every stream would hand out."""
    positions = WriterPositions(10, tuple(sorted((f"event_persister{index}", 1000 + index)
                                                 for index in range(count))))
    streams = ("account_data", "device_lists", "events", "presence", "push_rules", "receipts", "to_device",
               "typing")
    return SyncToken.of(dict.fromkeys(streams, positions)).format()


def test_long_tokens_are_accepted_up_to_the_bound_and_refused_past_it(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    long_token = _token_with_writers(8)
    assert 1024 < len(long_token) <= MAX_TOKEN_LENGTH
    for url in (f"{CLIENT}/rooms/{room_id}/messages?from={long_token}",
                f"{CLIENT}/rooms/{room_id}/members?at={long_token}",
                f"{CLIENT}/sync?since={long_token}"):
        response = homeserver.get(url, token=alice)
        assert response.status_code == 200, (url, response.json)
    too_long = _token_with_writers(40)
    assert len(too_long) > MAX_TOKEN_LENGTH
    for url in (f"{CLIENT}/rooms/{room_id}/messages?from={too_long}",
                f"{CLIENT}/rooms/{room_id}/members?at={too_long}",
                f"{CLIENT}/sync?since={too_long}"):
        response = homeserver.get(url, token=alice)
        assert (response.status_code, response.json["errcode"]) == (400, "M_INVALID_PARAM"), url


def test_the_web_server_reads_request_lines_holding_two_tokens() -> None:
    from ganglion.cli import REQUEST_LINE_LIMIT

    assert REQUEST_LINE_LIMIT >= 2 * MAX_TOKEN_LENGTH + 1024, "/messages?from=...&to=... and its path fit"


def test_paging_back_from_the_prev_batch_of_a_whole_room_serves_its_history_again(
        homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    _send(homeserver, alice, room_id, "hello")
    timeline = _sync(homeserver, alice)["rooms"]["join"][room_id]["timeline"]
    assert timeline["limited"] is False
    page = _page(homeserver, alice, room_id, dir="b", **{"from": timeline["prev_batch"]})
    assert [event["event_id"] for event in page["chunk"]] == [event["event_id"]
                                                             for event in reversed(timeline["events"])]
    assert "end" in page, "as Synapse: the prev_batch of a room served whole stands after its last event"
    assert "end" not in _page(homeserver, alice, room_id, dir="b", **{"from": page["end"]})
