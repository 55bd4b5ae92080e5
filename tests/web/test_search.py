"""Server-side search (Client-Server API, "Server Side Search"): full text on PostgreSQL and SQLite alike."""

from __future__ import annotations

from typing import Any

from tests.homeserver import HomeserverUnderTest

CLIENT = "/_matrix/client/v3"


def _room(server: HomeserverUnderTest, token: str, **body: Any) -> str:
    server.clock.advance(1)  # a v12 room id hashes its create event: each room gets its own moment
    response = server.post(f"{CLIENT}/createRoom", token=token, json=body)
    assert response.status_code == 200, response.json
    return str(response.json["room_id"])


def _send(server: HomeserverUnderTest, token: str, room_id: str, body: str) -> str:
    server.clock.advance(1)
    response = server.put(f"{CLIENT}/rooms/{room_id}/send/m.room.message/{server.clock.now_ms()}", token=token,
                          json={"msgtype": "m.text", "body": body})
    assert response.status_code == 200, response.json
    return str(response.json["event_id"])


def _search(server: HomeserverUnderTest, token: str, next_batch: str | None = None,
            **criteria: Any) -> dict[str, Any]:
    path = f"{CLIENT}/search" + (f"?next_batch={next_batch}" if next_batch else "")
    response = server.post(path, token=token, json={"search_categories": {"room_events": criteria}})
    assert response.status_code == 200, response.json
    return response.json["search_categories"]["room_events"]  # type: ignore[no-any-return]


def _ids(found: dict[str, Any]) -> list[str]:
    return [result["result"]["event_id"] for result in found["results"]]


def test_search_ranks_and_paginates(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room = _room(homeserver, alice)
    best = _send(homeserver, alice, room, "fox fox fox")
    _send(homeserver, alice, room, "a lazy dog sleeps")
    others = {_send(homeserver, alice, room, "the quick brown fox jumps over the lazy dog in the sunny meadow"),
              _send(homeserver, alice, room, "foxes and a fox")}

    first = _search(homeserver, alice, search_term="fox", filter={"limit": 2})
    assert first["count"] == 3
    assert first["highlights"] == ["fox"]
    assert _ids(first)[0] == best
    assert "next_batch" in first
    second = _search(homeserver, alice, first["next_batch"], search_term="fox", filter={"limit": 2})
    assert "next_batch" not in second
    assert set(_ids(first)[1:] + _ids(second)) == others
    ranks = [result["rank"] for result in first["results"] + second["results"]]
    assert ranks == sorted(ranks, reverse=True) and ranks[0] > ranks[-1]
    assert first["results"][0]["result"]["content"]["body"] == "fox fox fox"
    assert first["results"][0]["result"]["room_id"] == room


def test_search_matches_every_word_as_a_prefix(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room = _room(homeserver, alice)
    quick = _send(homeserver, alice, room, "The Quick brown fox")
    _send(homeserver, alice, room, "a quick snail")
    assert _ids(_search(homeserver, alice, search_term="qui BROWN")) == [quick]
    assert _search(homeserver, alice, search_term="quick tortoise")["results"] == []
    assert _search(homeserver, alice, search_term="\"(*&^ -- OR")["results"] == [], "syntax is never read as query"


def test_search_respects_membership(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    eve = homeserver.register("eve")["access_token"]
    shared = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"{CLIENT}/rooms/{shared}/join", token=bob, json={})
    private = _room(homeserver, bob, preset="private_chat")
    in_shared = _send(homeserver, alice, shared, "meeting at noon")
    in_private = _send(homeserver, bob, private, "secret meeting at midnight")

    assert _ids(_search(homeserver, alice, search_term="meeting")) == [in_shared]
    assert set(_ids(_search(homeserver, bob, search_term="meeting"))) == {in_shared, in_private}
    assert _search(homeserver, eve, search_term="meeting") == {"count": 0, "highlights": ["meeting"],
                                                               "results": []}
    only = _search(homeserver, bob, search_term="meeting", filter={"rooms": [private]})
    assert _ids(only) == [in_private]
    not_alice = _search(homeserver, bob, search_term="meeting", filter={"not_senders": ["@alice:test.local"]})
    assert _ids(not_alice) == [in_private]


def test_order_by_recent_pages_newest_first(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room = _room(homeserver, alice)
    sent = [_send(homeserver, alice, room, f"report number {n}") for n in range(5)]
    pages: list[str] = []
    token = None
    for _ in range(5):
        found = _search(homeserver, alice, token, search_term="report", order_by="recent", filter={"limit": 2})
        pages.extend(_ids(found))
        token = found.get("next_batch")
        if token is None:
            break
    assert pages == list(reversed(sent))
    wrong = homeserver.post(f"{CLIENT}/search?next_batch=rank-2", token=alice, json={"search_categories": {
        "room_events": {"search_term": "report", "order_by": "recent"}}})
    assert (wrong.status_code, wrong.json["errcode"]) == (400, "M_INVALID_PARAM")


def test_context_is_included_when_asked(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    homeserver.put(f"{CLIENT}/profile/@alice:test.local/displayname", token=alice, json={"displayname": "Alice"})
    room = _room(homeserver, alice)
    before = _send(homeserver, alice, room, "hello there")
    match = _send(homeserver, alice, room, "where is the treasure")
    after = [_send(homeserver, alice, room, "over the hill"), _send(homeserver, alice, room, "past the river")]
    found = _search(homeserver, alice, search_term="treasure",
                    event_context={"before_limit": 1, "after_limit": 5, "include_profile": True})
    [result] = found["results"]
    assert result["result"]["event_id"] == match
    context = result["context"]
    assert [event["event_id"] for event in context["events_before"]] == [before]
    assert [event["event_id"] for event in context["events_after"]] == after
    assert context["profile_info"] == {"@alice:test.local": {"displayname": "Alice"}}
    assert isinstance(context["start"], str) and isinstance(context["end"], str)
    messages = homeserver.get(f"{CLIENT}/rooms/{room}/messages?dir=b&limit=1&from={context['start']}",
                              token=alice)
    if messages.status_code == 200:  # /messages reads the same tokens, where it is served
        assert [event["event_id"] for event in messages.json["chunk"]] != [before]
    assert "context" not in _search(homeserver, alice, search_term="treasure")["results"][0]


def test_names_and_topics_are_searchable_by_key(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room = _room(homeserver, alice, name="Astronomy club", topic="Telescopes and astronomy nights")
    _send(homeserver, alice, room, "astronomy is fun")
    by_key = {key: {result["result"]["type"] for result in _search(
        homeserver, alice, search_term="astronomy", keys=[key])["results"]}
        for key in ("content.name", "content.topic", "content.body")}
    assert by_key == {"content.name": {"m.room.name"}, "content.topic": {"m.room.topic"},
                      "content.body": {"m.room.message"}}
    assert len(_search(homeserver, alice, search_term="astronomy")["results"]) == 3
    typed = _search(homeserver, alice, search_term="astronomy", filter={"not_types": ["m.room.message"]})
    assert {result["result"]["type"] for result in typed["results"]} == {"m.room.name", "m.room.topic"}
    bad = homeserver.post(f"{CLIENT}/search", token=alice, json={"search_categories": {"room_events": {
        "search_term": "x", "keys": ["content.url"]}}})
    assert (bad.status_code, bad.json["errcode"]) == (400, "M_INVALID_PARAM")


def test_results_can_be_grouped_by_room_and_sender(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    one = _room(homeserver, alice, preset="public_chat")
    two = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"{CLIENT}/rooms/{one}/join", token=bob, json={})
    first = _send(homeserver, alice, one, "pizza tonight")
    second = _send(homeserver, bob, one, "pizza sounds good")
    third = _send(homeserver, alice, two, "pizza again")
    found = _search(homeserver, alice, search_term="pizza", order_by="recent",
                    groupings={"group_by": [{"key": "room_id"}, {"key": "sender"}]}, include_state=True)
    groups = found["groups"]
    assert {room: entry["results"] for room, entry in groups["room_id"].items()} == {
        two: [third], one: [second, first]}
    assert {user: entry["results"] for user, entry in groups["sender"].items()} == {
        "@alice:test.local": [third, first], "@bob:test.local": [second]}
    assert set(found["state"]) == {one, two}
    assert any(event["type"] == "m.room.create" for event in found["state"][one])
