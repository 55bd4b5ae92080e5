"""Reporting content (Client-Server API, "Reporting content"): events and rooms, stored for the administrators."""

from __future__ import annotations

from typing import Any

from persistence.stores.reports import Report
from tests.homeserver import GENEROUS, HomeserverUnderTest

CLIENT = "/_matrix/client/v3"


def _room(server: HomeserverUnderTest, token: str, **body: Any) -> str:
    response = server.post(f"{CLIENT}/createRoom", token=token, json=body)
    assert response.status_code == 200, response.json
    return str(response.json["room_id"])


def _send(server: HomeserverUnderTest, token: str, room_id: str, txn: str, body: str) -> str:
    response = server.put(f"{CLIENT}/rooms/{room_id}/send/m.room.message/{txn}", token=token, json={"body": body})
    assert response.status_code == 200, response.json
    return str(response.json["event_id"])


def _reports(server: HomeserverUnderTest) -> list[Report]:
    with server.deps.database.read() as conn:
        return server.deps.stores.reports.list_reports(conn)


def test_event_reports_are_stored_with_reason_and_score(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"{CLIENT}/rooms/{room}/join", token=bob, json={})
    event_id = _send(homeserver, alice, room, "t1", "something rude")
    response = homeserver.post(f"{CLIENT}/rooms/{room}/report/{event_id}", token=bob,
                               json={"reason": "rude", "score": -100})
    assert (response.status_code, response.json) == (200, {})
    legacy = homeserver.post(f"/_matrix/client/r0/rooms/{room}/report/{event_id}", token=bob, json={})
    assert legacy.status_code == 200
    reports = _reports(homeserver)
    assert [(r.room_id, r.event_id, r.user_id, r.reason, r.score) for r in reports] == [
        (room, event_id, "@bob:test.local", "rude", -100),
        (room, event_id, "@bob:test.local", None, None),
    ]
    assert reports[0].received_ts == homeserver.clock.now_ms()


def test_unknown_or_unseen_events_are_not_found(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    eve = homeserver.register("eve")["access_token"]
    room = _room(homeserver, alice, preset="private_chat")
    homeserver.clock.advance(1)  # a v12 room id hashes its create event: another moment, another room
    other = _room(homeserver, alice, preset="private_chat")
    event_id = _send(homeserver, alice, room, "t1", "private words")
    elsewhere = _send(homeserver, alice, other, "t1", "other room")
    for token, path in ((eve, f"{room}/report/{event_id}"),  # not in the room: cannot see it
                        (alice, f"{room}/report/$unknown"),
                        (alice, f"{room}/report/{elsewhere}"),  # exists, but not in this room
                        (alice, f"!nowhere:test.local/report/{event_id}")):
        response = homeserver.post(f"{CLIENT}/rooms/{path}", token=token, json={"reason": "x"})
        assert (response.status_code, response.json.get("errcode")) == (404, "M_NOT_FOUND"), path
    assert _reports(homeserver) == []


def test_score_outside_the_range_is_refused(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room = _room(homeserver, alice)
    event_id = _send(homeserver, alice, room, "t1", "hello")
    for score in (1, -101):
        response = homeserver.post(f"{CLIENT}/rooms/{room}/report/{event_id}", token=alice, json={"score": score})
        assert (response.status_code, response.json["errcode"]) == (400, "M_INVALID_PARAM")


def test_rooms_can_be_reported_without_being_joined(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    eve = homeserver.register("eve")["access_token"]
    room = _room(homeserver, alice, preset="private_chat")
    response = homeserver.post(f"{CLIENT}/rooms/{room}/report", token=eve, json={"reason": "spam invites"})
    assert (response.status_code, response.json) == (200, {})
    missing = homeserver.post(f"{CLIENT}/rooms/!nowhere:test.local/report", token=eve, json={"reason": "x"})
    assert (missing.status_code, missing.json["errcode"]) == (404, "M_NOT_FOUND")
    no_reason = homeserver.post(f"{CLIENT}/rooms/{room}/report", token=eve, json={})
    assert (no_reason.status_code, no_reason.json["errcode"]) == (400, "M_MISSING_PARAM")
    assert [(r.room_id, r.event_id, r.user_id, r.reason) for r in _reports(homeserver)] == [
        (room, None, "@eve:test.local", "spam invites")]


def test_reports_are_rate_limited(make_homeserver: Any) -> None:
    server: HomeserverUnderTest = make_homeserver(rc_reports={"per_second": 0.001, "burst_count": 2},
                                                  rc_room_creation=GENEROUS)
    alice = server.register("alice")["access_token"]
    room = _room(server, alice)
    statuses = [server.post(f"{CLIENT}/rooms/{room}/report", token=alice, json={"reason": str(n)}).status_code
                for n in range(3)]
    assert statuses == [200, 200, 429]
    assert len(_reports(server)) == 2
