"""Self-destructing messages (MSC2228, ``enable_ephemeral_messages`` as Synapse's): a message whose content names
``org.matrix.self_destruct_after`` is served pruned from that moment, and beat's sweep prunes it in the database."""

from __future__ import annotations

from typing import Any

from tests.conftest import HomeserverFactory
from tests.homeserver import HomeserverUnderTest

CLIENT = "/_matrix/client/v3"
SWEEP = "background.sweep_expiring_events"


def _room_with_message(server: HomeserverUnderTest, after_ms: int) -> tuple[str, str, str]:
    token = server.register("alice")["access_token"]
    room_id = server.post(f"{CLIENT}/createRoom", token=token, json={}).json["room_id"]
    sent = server.put(f"{CLIENT}/rooms/{room_id}/send/m.room.message/t1", token=token, json={
        "msgtype": "m.text", "body": "gone soon", "org.matrix.self_destruct_after": server.clock.now_ms() + after_ms})
    assert sent.status_code == 200, sent.json
    return token, room_id, str(sent.json["event_id"])


def _served(server: HomeserverUnderTest, token: str, room_id: str, event_id: str) -> dict[str, Any]:
    return server.get(f"{CLIENT}/rooms/{room_id}/event/{event_id}", token=token).json  # type: ignore[no-any-return]


def _stored_content(server: HomeserverUnderTest, event_id: str) -> dict[str, Any]:
    with server.deps.database.read() as conn:
        stored = server.deps.stores.events.get_event(conn, event_id)
    assert stored is not None
    return dict(stored.event.content)


def test_a_self_destructing_message_is_served_pruned_once_due(homeserver: HomeserverUnderTest) -> None:
    token, room_id, event_id = _room_with_message(homeserver, 1000)
    assert _served(homeserver, token, room_id, event_id)["content"]["body"] == "gone soon"
    homeserver.clock.advance(1500)
    assert _served(homeserver, token, room_id, event_id)["content"] == {}
    page = homeserver.get(f"{CLIENT}/rooms/{room_id}/messages?dir=b", token=token).json
    assert next(event for event in page["chunk"] if event["event_id"] == event_id)["content"] == {}
    timeline = homeserver.get(f"{CLIENT}/sync", token=token).json["rooms"]["join"][room_id]["timeline"]
    assert next(event for event in timeline["events"] if event["event_id"] == event_id)["content"] == {}


def test_the_sweep_prunes_a_due_message_in_the_database_and_its_search_text(
        homeserver: HomeserverUnderTest) -> None:
    token, _, event_id = _room_with_message(homeserver, 1000)
    assert homeserver.run_beat_job(SWEEP) == 0, "nothing is due yet"
    assert _stored_content(homeserver, event_id)["body"] == "gone soon"
    homeserver.clock.advance(1500)
    assert homeserver.run_beat_job(SWEEP) == 1
    homeserver.eventually(lambda: _stored_content(homeserver, event_id) == {})
    found = homeserver.post(f"{CLIENT}/search", token=token, json={
        "search_categories": {"room_events": {"search_term": "soon"}}}).json
    assert found["search_categories"]["room_events"]["results"] == []
    assert homeserver.run_beat_job(SWEEP) == 0, "a pruned event is due no more"


def test_without_the_switch_nothing_self_destructs(make_homeserver: HomeserverFactory) -> None:
    server = make_homeserver(enable_ephemeral_messages=False)
    token, room_id, event_id = _room_with_message(server, 1000)
    server.clock.advance(1500)
    assert _served(server, token, room_id, event_id)["content"]["body"] == "gone soon"
    assert server.run_beat_job(SWEEP) == 0
