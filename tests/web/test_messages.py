"""Reading room history: /messages, /context and /timestamp_to_event, as HTTP conversations in both shapes."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from tests.homeserver import HomeserverUnderTest

V3 = "/_matrix/client/v3"
V1 = "/_matrix/client/v1"


def _room(server: HomeserverUnderTest, token: str, **body: Any) -> str:
    response = server.post(f"{V3}/createRoom", token=token, json={"preset": "private_chat", **body})
    assert response.status_code == 200, response.json
    return str(response.json["room_id"])


def _send(server: HomeserverUnderTest, token: str, room_id: str, content: dict[str, Any],
          event_type: str = "m.room.message") -> str:
    server.clock.advance(1000)  # distinct timestamps in the monolith; the worker shape keeps its own clock
    txn = f"t{server.clock.now_ms()}"
    response = server.put(f"{V3}/rooms/{room_id}/send/{event_type}/{txn}", token=token, json=content)
    assert response.status_code == 200, response.json
    return str(response.json["event_id"])


def _messages(server: HomeserverUnderTest, token: str, room_id: str, **query: Any) -> Any:
    params = "&".join(f"{key}={quote(value if isinstance(value, str) else json.dumps(value))}"
                      for key, value in query.items())
    response = server.get(f"{V3}/rooms/{room_id}/messages?{params}", token=token)
    assert response.status_code == 200, response.json
    return response.json


def _walk(server: HomeserverUnderTest, token: str, room_id: str, direction: str, **query: Any) -> list[list[str]]:
    """Every page from the start of the given direction until there is no ``end``."""
    pages: list[list[str]] = []
    token_from: str | None = None
    while True:
        extra = {"from": token_from} if token_from else {}
        body = _messages(server, token, room_id, dir=direction, **query, **extra)
        if token_from:
            assert body["start"] == token_from
        pages.append([event["event_id"] for event in body["chunk"]])
        if "end" not in body:
            return pages
        assert len(pages) < 50, "pagination does not end"
        token_from = body["end"]


@pytest.fixture
def chat(homeserver: HomeserverUnderTest) -> tuple[HomeserverUnderTest, str, str, list[str]]:
    """Alice's room with 25 messages after its creation events."""
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    sent = [_send(homeserver, alice, room_id, {"msgtype": "m.text", "body": str(index)}) for index in range(25)]
    return homeserver, alice, room_id, sent


def test_paginating_both_directions_gives_every_event_once_in_order(chat: Any) -> None:
    server, alice, room_id, sent = chat
    backwards = _walk(server, alice, room_id, "b", limit=10)
    forwards = _walk(server, alice, room_id, "f", limit=10)
    assert all(len(page) == 10 for page in backwards[:-2]) and 0 < len(backwards[-2]) <= 10
    assert backwards[-1] == [], "the page that reached the room's start says where to go on; the empty one ends"
    everything_back = [event_id for page in backwards for event_id in page]
    everything_forward = [event_id for page in forwards for event_id in page]
    assert everything_forward == list(reversed(everything_back))
    assert len(set(everything_forward)) == len(everything_forward)
    assert everything_forward[-25:] == sent
    assert len(everything_forward) > 25, "the creation events come first"


def test_pages_are_exact_when_the_history_divides_evenly(chat: Any) -> None:
    server, alice, room_id, sent = chat
    pages = _walk(server, alice, room_id, "f", limit=5, filter={"types": ["m.room.message"]})
    assert [len(page) for page in pages] == [5, 5, 5, 5, 5, 0], (
        "forwards, a page that found events says where to go on (more may come); the empty one ends the walk")
    assert [event_id for page in pages for event_id in page] == sent


def test_default_direction_is_backwards_from_the_end(chat: Any) -> None:
    server, alice, room_id, sent = chat
    body = _messages(server, alice, room_id)
    assert [event["event_id"] for event in body["chunk"]] == list(reversed(sent))[:10]
    assert body["start"].startswith("t") and "end" in body
    newest = body["chunk"][0]
    assert newest["content"] == {"msgtype": "m.text", "body": "24"} and newest["room_id"] == room_id


def test_from_and_to_bound_the_range(chat: Any) -> None:
    server, alice, room_id, sent = chat
    first = _messages(server, alice, room_id, dir="b", limit=5)
    second = _messages(server, alice, room_id, dir="b", limit=5, **{"from": first["end"]})
    # Forwards from the end of page two back up to the start of page one: the ten newest, oldest first.
    between = _messages(server, alice, room_id, dir="f", limit=100, to=first["start"], **{"from": second["end"]})
    assert [event["event_id"] for event in between["chunk"]] == sent[-10:]
    assert "end" not in between
    # Backwards from page one's end down to page two's end: exactly page two.
    bounded = _messages(server, alice, room_id, dir="b", limit=100, to=second["end"], **{"from": first["end"]})
    assert [event["event_id"] for event in bounded["chunk"]] == [event["event_id"] for event in second["chunk"]]
    assert "end" not in bounded


def test_a_stream_token_is_accepted_as_from(chat: Any) -> None:
    server, alice, room_id, sent = chat
    with server.deps.database.read() as conn:
        stored = server.deps.stores.events.get_event(conn, sent[9])
    assert stored is not None
    body = _messages(server, alice, room_id, dir="b", limit=3, **{"from": f"s{stored.stream_ordering}"})
    assert [event["event_id"] for event in body["chunk"]] == [sent[9], sent[8], sent[7]]
    body = _messages(server, alice, room_id, dir="f", limit=3, **{"from": f"s{stored.stream_ordering}"})
    assert [event["event_id"] for event in body["chunk"]] == sent[10:13]


def test_filters_narrow_by_type_sender_and_url(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    assert homeserver.post(f"{V3}/rooms/{room_id}/join", token=bob, json={}).status_code == 200
    text = _send(homeserver, alice, room_id, {"msgtype": "m.text", "body": "hi"})
    image = _send(homeserver, bob, room_id, {"msgtype": "m.image", "body": "cat", "url": "mxc://test.local/cat"})
    custom = _send(homeserver, bob, room_id, {"x": 1}, event_type="org.example.thing")
    topic = homeserver.put(f"{V3}/rooms/{room_id}/state/m.room.topic", token=alice, json={"topic": "t"}).json[
        "event_id"]

    def ids(event_filter: dict[str, Any]) -> list[str]:
        body = _messages(homeserver, alice, room_id, dir="f", limit=100, filter=event_filter)
        return [event["event_id"] for event in body["chunk"]]

    assert ids({"types": ["m.room.message"]}) == [text, image]
    assert ids({"types": ["org.example.*", "m.room.topic"]}) == [custom, topic]
    not_wanted = ["org.*", "m.room.*_*", "m.room.member", "m.room.create"]  # *_*: power_levels, join_rules...
    assert ids({"types": ["m.room.*", "org.*"], "not_types": not_wanted}) == [text, image, topic]
    assert ids({"senders": ["@bob:test.local"], "not_types": ["m.room.member"]}) == [image, custom]
    assert ids({"not_senders": ["@alice:test.local"], "types": ["m.room.message", "org.*"]}) == [image, custom]
    assert ids({"contains_url": True}) == [image]
    assert text in ids({"contains_url": False}) and image not in ids({"contains_url": False})
    assert ids({"types": ["m.room.message"], "limit": 1}) == [text]


def test_lazy_loading_members_returns_the_senders_membership(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"{V3}/rooms/{room_id}/join", token=bob, json={})
    _send(homeserver, bob, room_id, {"msgtype": "m.text", "body": "from bob"})
    body = _messages(homeserver, alice, room_id, dir="b", limit=1,
                     filter={"lazy_load_members": True, "types": ["m.room.message"]})
    assert [(event["type"], event["state_key"]) for event in body["state"]] == [("m.room.member", "@bob:test.local")]


@pytest.mark.parametrize("query", [
    "dir=x", "dir=", "limit=ten", "limit=-1", "limit=1.5", "from=nonsense", "from=t1", "from=t01-2", "to=s-3",
    "from=t99999999999999999999-1", "filter=not-json", "filter=%7B%22types%22%3A%22m.room.message%22%7D",
    "filter=%7B%22limit%22%3A0%7D", "filter=%5B%5D", "filter=%7B%22contains_url%22%3A%22yes%22%7D",
])
def test_bad_query_parameters_are_400(homeserver: HomeserverUnderTest, query: str) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    response = homeserver.get(f"{V3}/rooms/{room_id}/messages?{query}", token=alice)
    assert response.status_code == 400, response.json
    assert response.json["errcode"] in {"M_INVALID_PARAM", "M_BAD_JSON", "M_NOT_JSON"}


def test_bad_tokens_are_invalid_param(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    for url in (f"{V3}/rooms/{room_id}/messages?from=garbage", f"{V3}/rooms/{room_id}/messages?to=t1-2-3",
                f"{V1}/rooms/{room_id}/threads?from=garbage",
                f"{V1}/rooms/{room_id}/relations/$x?from=garbage"):
        response = homeserver.get(url, token=alice)
        assert (response.status_code, response.json["errcode"]) == (400, "M_INVALID_PARAM"), url


def test_context_around_an_event(chat: Any) -> None:
    server, alice, room_id, sent = chat
    response = server.get(f"{V3}/rooms/{room_id}/context/{sent[12]}?limit=6", token=alice)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["event"]["event_id"] == sent[12]
    assert [event["event_id"] for event in body["events_before"]] == [sent[11], sent[10], sent[9]]
    assert [event["event_id"] for event in body["events_after"]] == [sent[13], sent[14], sent[15]]
    state = {(event["type"], event["state_key"]) for event in body["state"]}
    assert {("m.room.create", ""), ("m.room.member", "@alice:test.local")} <= state
    # The tokens continue the history on either side.
    earlier = _messages(server, alice, room_id, dir="b", limit=2, **{"from": body["start"]})
    later = _messages(server, alice, room_id, dir="f", limit=2, **{"from": body["end"]})
    assert [event["event_id"] for event in earlier["chunk"]] == [sent[8], sent[7]]
    assert [event["event_id"] for event in later["chunk"]] == [sent[16], sent[17]]


def test_context_applies_the_filter_but_not_to_the_event(chat: Any) -> None:
    server, alice, room_id, sent = chat
    event_filter = quote(json.dumps({"types": ["m.room.member"]}))
    response = server.get(f"{V3}/rooms/{room_id}/context/{sent[0]}?limit=4&filter={event_filter}", token=alice)
    assert response.status_code == 200, response.json
    assert response.json["event"]["event_id"] == sent[0]
    assert [event["type"] for event in response.json["events_before"]] == ["m.room.member"]
    assert response.json["events_after"] == []
    assert {event["type"] for event in response.json["state"]} == {"m.room.member"}


def test_context_of_an_unknown_event_is_404(chat: Any) -> None:
    server, alice, room_id, _ = chat
    response = server.get(f"{V3}/rooms/{room_id}/context/$nope", token=alice)
    assert (response.status_code, response.json["errcode"]) == (404, "M_NOT_FOUND")


def test_timestamp_to_event_in_both_directions(chat: Any) -> None:
    server, alice, room_id, _ = chat
    timeline = _messages(server, alice, room_id, dir="f", limit=100)["chunk"]
    order = {event["event_id"]: index for index, event in enumerate(timeline)}

    def expected(ts: int, direction: str) -> str | None:
        if direction == "f":
            found = [event for event in timeline if event["origin_server_ts"] >= ts]
            best = min(found, key=lambda e: (e["origin_server_ts"], order[e["event_id"]]), default=None)
        else:
            found = [event for event in timeline if event["origin_server_ts"] <= ts]
            best = max(found, key=lambda e: (e["origin_server_ts"], order[e["event_id"]]), default=None)
        return best["event_id"] if best else None

    stamps = [event["origin_server_ts"] for event in timeline]
    probes = [stamps[0], stamps[len(stamps) // 2], stamps[-1], stamps[len(stamps) // 2] + 1, stamps[-1] + 1,
              stamps[0] - 1]
    for ts in probes:
        for direction in ("f", "b"):
            response = server.get(f"{V1}/rooms/{room_id}/timestamp_to_event?ts={ts}&dir={direction}", token=alice)
            want = expected(ts, direction)
            if want is None:
                assert (response.status_code, response.json["errcode"]) == (404, "M_NOT_FOUND")
            else:
                assert response.status_code == 200, response.json
                assert response.json["event_id"] == want
                assert response.json["origin_server_ts"] == timeline[order[want]]["origin_server_ts"]


@pytest.mark.parametrize("query", ["dir=f", "ts=1", "ts=1&dir=x", "ts=soon&dir=f", "ts=&dir=b"])
def test_timestamp_to_event_needs_ts_and_dir(homeserver: HomeserverUnderTest, query: str) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    response = homeserver.get(f"{V1}/rooms/{room_id}/timestamp_to_event?{query}", token=alice)
    assert response.status_code == 400 and response.json["errcode"] in {"M_MISSING_PARAM", "M_INVALID_PARAM"}


def test_outsiders_cannot_read_history(chat: Any) -> None:
    server, _, room_id, sent = chat
    eve = server.register("eve")["access_token"]
    for url in (f"{V3}/rooms/{room_id}/messages", f"{V3}/rooms/{room_id}/context/{sent[0]}",
                f"{V1}/rooms/{room_id}/timestamp_to_event?ts=0&dir=f"):
        response = server.get(url, token=eve)
        assert (response.status_code, response.json["errcode"]) == (403, "M_FORBIDDEN"), url
    missing = server.get(f"{V3}/rooms/!nowhere:test.local/messages", token=eve)
    assert missing.status_code in (403, 404)


def test_a_departed_member_pages_history_up_to_their_leave(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"{V3}/rooms/{room_id}/join", token=bob, json={})
    seen = [_send(homeserver, alice, room_id, {"msgtype": "m.text", "body": str(index)}) for index in range(3)]
    assert homeserver.post(f"{V3}/rooms/{room_id}/leave", token=bob, json={}).status_code == 200
    unseen = [_send(homeserver, alice, room_id, {"msgtype": "m.text", "body": f"later {index}"})
              for index in range(3)]
    pages = _walk(homeserver, bob, room_id, "b", limit=4, filter={"types": ["m.room.message"]})
    assert [event_id for page in pages for event_id in page] == list(reversed(seen))
    forwards = _walk(homeserver, bob, room_id, "f", limit=100, filter={"types": ["m.room.message"]})
    assert [event_id for page in forwards for event_id in page] == seen
    hidden = homeserver.get(f"{V3}/rooms/{room_id}/context/{unseen[0]}", token=bob)
    assert (hidden.status_code, hidden.json["errcode"]) == (404, "M_NOT_FOUND")


def test_history_serves_redacted_events_redacted(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    oops = _send(homeserver, alice, room_id, {"msgtype": "m.text", "body": "oops"})
    redacted = homeserver.put(f"{V3}/rooms/{room_id}/redact/{oops}/r1", token=alice, json={"reason": "typo"})
    assert redacted.status_code == 200, redacted.json
    chunk = _messages(homeserver, alice, room_id, dir="b", limit=2)["chunk"]
    served = next(event for event in chunk if event["event_id"] == oops)
    assert served["content"] == {}
    assert served["unsigned"]["redacted_because"]["event_id"] == redacted.json["event_id"]
