"""Redactions over HTTP (Client-Server API, "Redactions"): sending them, and every read path serving the target
redacted with ``unsigned.redacted_because`` when the redaction applies (rooms/v3 "Handling redactions")."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from protocol.events.builder import EventTemplate, build_event
from protocol.room_versions import KNOWN_ROOM_VERSIONS
from protocol.signing import generate_signing_key
from tests.homeserver import HomeserverUnderTest

CREATE = "/_matrix/client/v3/createRoom"


def _room(server: HomeserverUnderTest, token: str, **body: Any) -> str:
    response = server.post(CREATE, token=token, json={"preset": "public_chat", **body})
    assert response.status_code == 200, response.json
    return str(response.json["room_id"])


def _send(server: HomeserverUnderTest, token: str, room_id: str, content: dict[str, Any],
          event_type: str = "m.room.message") -> str:
    response = server.put(f"/_matrix/client/v3/rooms/{room_id}/send/{event_type}/{secrets.token_hex(4)}",
                          token=token, json=content)
    assert response.status_code == 200, response.json
    return str(response.json["event_id"])


def _redact(server: HomeserverUnderTest, token: str, room_id: str, event_id: str, txn: str = "r1",
            **body: Any) -> Any:
    return server.put(f"/_matrix/client/v3/rooms/{room_id}/redact/{event_id}/{txn}", token=token, json=body)


def _event(server: HomeserverUnderTest, token: str, room_id: str, event_id: str) -> dict[str, Any]:
    response = server.get(f"/_matrix/client/v3/rooms/{room_id}/event/{event_id}", token=token)
    assert response.status_code == 200, response.json
    return response.json  # type: ignore[no-any-return]


@pytest.mark.parametrize("version", ["10", "11"])
def test_redacting_own_message_serves_it_redacted_with_the_reason(homeserver: HomeserverUnderTest,
                                                                  version: str) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice, room_version=version)
    target = _send(homeserver, alice, room_id, {"msgtype": "m.text", "body": "oops"})
    redacted = _redact(homeserver, alice, room_id, target, reason="typo")
    assert redacted.status_code == 200, redacted.json
    served = _event(homeserver, alice, room_id, target)
    assert served["content"] == {}
    because = served["unsigned"]["redacted_because"]
    assert because["event_id"] == served["unsigned"]["redacted_by"] == redacted.json["event_id"]
    assert because["type"] == "m.room.redaction" and because["sender"] == "@alice:test.local"
    assert because["content"]["reason"] == "typo"
    redaction = _event(homeserver, alice, room_id, redacted.json["event_id"])
    # rooms/v11 "Event format": redacts moved into content; before, it is a top-level key. Served in both places
    # either way, as Synapse does, for clients written for the other.
    assert redaction["content"]["redacts"] == redaction["redacts"] == target


def test_redaction_is_idempotent_per_transaction_id(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    target = _send(homeserver, alice, room_id, {"body": "x"})
    first = _redact(homeserver, alice, room_id, target, txn="same")
    again = _redact(homeserver, alice, room_id, target, txn="same")
    assert first.status_code == again.status_code == 200
    assert first.json == again.json
    other = _redact(homeserver, alice, room_id, target, txn="different")
    assert other.json["event_id"] != first.json["event_id"]


def test_a_redaction_posted_without_a_transaction_id_applies(homeserver: HomeserverUnderTest) -> None:
    """The pre-r0 ``POST /rooms/{roomId}/redact/{eventId}`` that SyTest's federation tests use, as Synapse serves
    it: a new redaction per request, with the same checks as the ``PUT`` form."""
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    target = _send(homeserver, alice, room_id, {"msgtype": "m.text", "body": "oops"})
    posted = homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/redact/{target}", token=alice,
                             json={"reason": "typo"})
    assert posted.status_code == 200, posted.json
    assert _event(homeserver, alice, room_id, target)["unsigned"]["redacted_because"]["event_id"] == \
        posted.json["event_id"]
    elsewhere = _room(homeserver, alice)
    other = homeserver.post(f"/_matrix/client/v3/rooms/{elsewhere}/redact/{target}", token=alice, json={})
    assert other.status_code == 400, "an event of another room"
    bad = homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/redact/{target}", token=alice, json={"reason": 1})
    assert bad.status_code == 400 and bad.json["errcode"] == "M_BAD_JSON"


def test_redacting_others_events_needs_the_redact_level(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice)
    assert homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={}).status_code == 200
    alices = _send(homeserver, alice, room_id, {"body": "from alice"})
    bobs = _send(homeserver, bob, room_id, {"body": "from bob"})
    denied = _redact(homeserver, bob, room_id, alices)
    assert (denied.status_code, denied.json["errcode"]) == (403, "M_FORBIDDEN")
    # The same refusal whichever endpoint carries the redaction.
    sneaky = homeserver.put(f"/_matrix/client/v3/rooms/{room_id}/send/m.room.redaction/s", token=bob,
                            json={"redacts": alices})
    assert sneaky.status_code == 403
    assert _event(homeserver, bob, room_id, alices)["content"] == {"body": "from alice"}
    assert _redact(homeserver, bob, room_id, bobs).status_code == 200
    assert _redact(homeserver, alice, room_id, bobs, txn="mod").status_code == 200
    assert _redact(homeserver, alice, room_id, alices, txn="own").status_code == 200
    unknown = _redact(homeserver, bob, room_id, "$unknown", txn="u")
    assert unknown.status_code == 404
    create_id = next(event["event_id"] for event in homeserver.get(
        f"/_matrix/client/v3/rooms/{room_id}/state", token=alice).json if event["type"] == "m.room.create")
    assert _redact(homeserver, alice, room_id, create_id, txn="c").status_code == 403


def test_redacted_state_is_served_redacted_on_every_read_path(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice)
    base = f"/_matrix/client/v3/rooms/{room_id}"
    homeserver.post(f"{base}/join", token=bob, json={})
    topic = homeserver.put(f"{base}/state/m.room.topic", token=alice, json={"topic": "secret"}).json["event_id"]
    profile = homeserver.put(f"{base}/state/m.room.member/@bob:test.local", token=bob,
                             json={"membership": "join", "displayname": "Bobby"}).json["event_id"]
    topic_redaction = _redact(homeserver, alice, room_id, topic, txn="t").json["event_id"]
    member_redaction = _redact(homeserver, bob, room_id, profile, txn="m").json["event_id"]

    assert homeserver.get(f"{base}/state/m.room.topic", token=bob).json == {}
    state = {(event["type"], event["state_key"]): event
             for event in homeserver.get(f"{base}/state", token=bob).json}
    assert state[("m.room.topic", "")]["content"] == {}
    assert state[("m.room.topic", "")]["unsigned"]["redacted_because"]["event_id"] == topic_redaction
    assert state[("m.room.member", "@bob:test.local")]["content"] == {"membership": "join"}
    members = {event["state_key"]: event for event in homeserver.get(f"{base}/members", token=bob).json["chunk"]}
    assert members["@bob:test.local"]["content"] == {"membership": "join"}
    assert members["@bob:test.local"]["unsigned"]["redacted_because"]["event_id"] == member_redaction
    assert "redacted_because" not in members["@alice:test.local"]["unsigned"]
    assert _event(homeserver, bob, room_id, topic)["unsigned"]["redacted_because"]["event_id"] == topic_redaction


def _store_remote_redaction(server: HomeserverUnderTest, room_id: str, sender: str, target: str) -> str:
    """A redaction from another server's user, stored as inbound federation would (no HTTP way in yet)."""
    deps = server.deps
    stores = deps.stores
    with deps.database.write() as conn:
        room = stores.rooms.get_room(conn, room_id)
        assert room is not None
        extremities = stores.events.list_forward_extremities(conn, room_id)
        prev = stores.events.get_event(conn, extremities[0])
        assert prev is not None
        event = build_event(
            KNOWN_ROOM_VERSIONS[room.room_version], EventTemplate("m.room.redaction", {}, None, target),
            room_id=room_id, sender=sender, prev_events=[prev.event], auth_events=[],
            origin_server_ts=deps.clock.now_ms(), server_name=sender.partition(":")[2],
            signing_key=generate_signing_key("remote"), opaque_id=secrets.token_hex(9))
        stream = stores.stream_ids.allocate(conn, "events", writer=deps.config.workers.name)[0]
        stores.events.insert_event(conn, event, room_id, stream, deps.config.workers.name)
        group = stores.state.get_event_state_group(conn, prev.event_id)
        assert group is not None
        stores.state.insert_event_state_group(conn, event.event_id, group)
        stores.events.replace_forward_extremities(conn, room_id, extremities, event.event_id)
        stores.relations.insert_redaction(conn, event.event_id, target, room_id)
        stores.stream_ids.advance_position(conn, "events", deps.config.workers.name, stream)
    return event.event_id


def test_a_redaction_from_another_server_applies_only_with_the_redact_level(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    first = _send(homeserver, alice, room_id, {"body": "keep me"})
    # Under-powered and from another domain: stored, but not applied.
    _store_remote_redaction(homeserver, room_id, "@mallory:evil.example", first)
    assert _event(homeserver, alice, room_id, first)["content"] == {"body": "keep me"}
    assert "redacted_because" not in _event(homeserver, alice, room_id, first)["unsigned"]

    levels = homeserver.get(f"/_matrix/client/v3/rooms/{room_id}/state/m.room.power_levels", token=alice).json
    levels["users"]["@moderator:remote.example"] = 50
    assert homeserver.put(f"/_matrix/client/v3/rooms/{room_id}/state/m.room.power_levels", token=alice,
                          json=levels).status_code == 200
    second = _send(homeserver, alice, room_id, {"body": "moderate me"})
    applied = _store_remote_redaction(homeserver, room_id, "@moderator:remote.example", second)
    served = _event(homeserver, alice, room_id, second)
    assert served["content"] == {}
    assert served["unsigned"]["redacted_because"]["event_id"] == applied


def test_redacting_an_event_of_another_room_is_refused(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    first = homeserver.post("/_matrix/client/v3/createRoom", token=alice, json={}).json["room_id"]
    second = homeserver.post("/_matrix/client/v3/createRoom", token=alice, json={}).json["room_id"]
    sent = homeserver.put(f"/_matrix/client/v3/rooms/{first}/send/m.room.message/t1", token=alice,
                          json={"msgtype": "m.text", "body": "hi"}).json["event_id"]
    refused = homeserver.put(f"/_matrix/client/v3/rooms/{second}/redact/{sent}/r1", token=alice, json={})
    assert refused.status_code == 400
    event = homeserver.get(f"/_matrix/client/v3/rooms/{first}/event/{sent}", token=alice).json
    assert event["content"] == {"msgtype": "m.text", "body": "hi"}, "the event is not redacted"
