"""``PUT /_matrix/federation/v1/send/{txnId}`` as a conversation with a remote server that takes part in a local
room: its events reach local clients through ``/sync``; forged, malformed, unauthorised and oversized input is
refused without changing what the server holds (Server-Server API, "Transactions", "Checks performed on receipt
of a PDU")."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from protocol.signing import generate_signing_key
from tests.conftest import HomeserverFactory
from tests.homeserver import SERVER_NAME, HomeserverUnderTest
from tests.web.federation_peers import FEDERATION_CONFIG
from tests.web.remote_server import BOB, RemoteServer

CLIENT = "/_matrix/client/v3"
ALICE = f"@alice:{SERVER_NAME}"


class Room:
    def __init__(self, homeserver: HomeserverUnderTest, **create: Any) -> None:
        self.homeserver = homeserver
        homeserver.register("alice")
        self.token = homeserver.login("alice")["access_token"]
        body = {"preset": "public_chat", **create}
        response = homeserver.post(f"{CLIENT}/createRoom", token=self.token, json=body)
        assert response.status_code == 200, response.json
        self.room_id: str = response.json["room_id"]
        self.remote = RemoteServer(homeserver)

    def timeline(self) -> list[dict[str, Any]]:
        response = self.homeserver.get(f"{CLIENT}/rooms/{self.room_id}/messages?dir=b&limit=100", token=self.token)
        assert response.status_code == 200, response.json
        return list(reversed(response.json["chunk"]))

    def timeline_ids(self) -> list[str]:
        return [event["event_id"] for event in self.timeline()]

    def synced_ids(self) -> list[str]:
        response = self.homeserver.get(f"{CLIENT}/sync", token=self.token)
        room = response.json["rooms"]["join"][self.room_id]
        return [event["event_id"] for event in room["timeline"]["events"]]

    def stored(self) -> dict[str, tuple[str | None, bool]]:
        """event id -> (rejected reason, outlier) of everything the server holds in the room."""
        deps = self.homeserver.deps
        with deps.database.read() as conn:
            rows = conn.exec_driver_sql(
                "SELECT event_id, rejected_reason, outlier FROM events WHERE room_id = ?"
                if conn.dialect.name == "sqlite" else
                "SELECT event_id, rejected_reason, outlier FROM events WHERE room_id = %s", (self.room_id,))
            return {row[0]: (row[1], bool(row[2])) for row in rows}

    def current_state(self) -> dict[tuple[str, str], str]:
        deps = self.homeserver.deps
        with deps.database.read() as conn:
            return deps.stores.state.get_current_state_ids(conn, self.room_id)


@pytest.fixture
def room(make_homeserver: HomeserverFactory) -> Room:
    return Room(make_homeserver(**FEDERATION_CONFIG))


def message(room: Room, body: str, **kwargs: Any) -> Any:
    return room.remote.build(room.room_id, BOB, "m.room.message", {"msgtype": "m.text", "body": body}, **kwargs)


def test_a_remote_join_and_message_reach_local_clients(room: Room) -> None:
    join = room.remote.join(room.room_id)
    hello = message(room, "hello from afar")
    response = room.remote.send([hello])
    assert response.status_code == 200, response.json
    assert response.json == {"pdus": {hello.event_id: {}}}
    assert room.timeline_ids()[-2:] == [join.event_id, hello.event_id]
    assert room.synced_ids()[-2:] == [join.event_id, hello.event_id]
    assert room.current_state()[("m.room.member", BOB)] == join.event_id
    members = room.homeserver.get(f"{CLIENT}/rooms/{room.room_id}/joined_members", token=room.token).json
    assert set(members["joined"]) == {ALICE, BOB}


def test_a_retried_transaction_gets_the_same_answer_and_stores_nothing_new(room: Room) -> None:
    room.remote.join(room.room_id)
    hello = message(room, "once")
    first = room.remote.send([hello], txn_id="retried")
    held = room.stored()
    # The retry carries another event under the same id: the answer recorded for the first is what counts.
    second = room.remote.send([message(room, "sneaked in")], txn_id="retried")
    assert second.json == first.json == {"pdus": {hello.event_id: {}}}
    assert room.stored() == held


def test_a_forged_signature_is_refused_and_nothing_is_stored(room: Room) -> None:
    room.remote.join(room.room_id)
    held = room.stored()
    forged = message(room, "forged", key=generate_signing_key("remote1"))
    response = room.remote.send([forged])
    assert response.status_code == 200
    assert "error" in response.json["pdus"][forged.event_id]
    assert room.stored() == held


def test_an_event_of_another_server_relayed_without_its_signature_is_refused(room: Room) -> None:
    room.remote.join(room.room_id)
    held = room.stored()
    impostor = room.remote.build(room.room_id, ALICE, "m.room.message", {"msgtype": "m.text", "body": "not me"})
    response = room.remote.send([impostor])
    assert "error" in response.json["pdus"][impostor.event_id]
    assert room.stored() == held


def test_a_transaction_naming_another_origin_is_forbidden(room: Room) -> None:
    room.remote.join(room.room_id)
    held = room.stored()
    response = room.remote.send([message(room, "hi")], origin="elsewhere.test")
    assert (response.status_code, response.json["errcode"]) == (403, "M_FORBIDDEN")
    assert room.stored() == held


@pytest.mark.parametrize(("pdus", "edus"), [(51, 0), (0, 101)])
def test_an_oversized_transaction_is_a_bad_request(room: Room, pdus: int, edus: int) -> None:
    room.remote.join(room.room_id)
    held = room.stored()
    events = [message(room, f"number {number}") for number in range(pdus)]
    response = room.remote.send(events, edus=[{"edu_type": "m.typing", "content": {}}] * edus)
    assert (response.status_code, response.json["errcode"]) == (400, "M_BAD_JSON")
    assert room.stored() == held


@pytest.mark.parametrize("breakage", ["depth", "prev_events", "content"])
def test_a_malformed_pdu_is_dropped(room: Room, breakage: str) -> None:
    room.remote.join(room.room_id)
    held = room.stored()
    pdu = dict(message(room, "broken").pdu)
    pdu[breakage] = "not the right type"
    response = room.remote.send([pdu])
    assert response.status_code == 200
    assert all("error" in result for result in response.json["pdus"].values())
    assert room.stored() == held


def test_an_event_failing_auth_is_stored_rejected_and_never_shown(room: Room) -> None:
    # Bob never joined: his message fails against its own auth events (check 4).
    intruder = message(room, "let me in")
    response = room.remote.send([intruder])
    assert response.json == {"pdus": {intruder.event_id: {}}}  # stored: the sender is told no more (as Synapse)
    rejected_reason, _ = room.stored()[intruder.event_id]
    assert rejected_reason is not None
    assert intruder.event_id not in room.timeline_ids()
    assert intruder.event_id not in room.synced_ids()


def test_a_state_change_failing_against_the_state_before_it_is_rejected(room: Room) -> None:
    room.remote.join(room.room_id)
    # Bob has power level 0: naming the room needs 50 (check 5), whatever auth events he cites.
    rename = room.remote.build(room.room_id, BOB, "m.room.name", {"name": "mine now"}, state_key="")
    before = room.current_state()
    response = room.remote.send([rename])
    assert response.json == {"pdus": {rename.event_id: {}}}
    assert room.stored()[rename.event_id][0] is not None
    assert room.current_state() == before
    at_rename = room.remote.request(
        "GET", f"/_matrix/federation/v1/state_ids/{room.room_id}?event_id={quote(rename.event_id, safe='')}")
    assert at_rename.status_code == 404  # a rejected event has no state of its own to serve


def test_a_content_hash_mismatch_stores_the_event_redacted(room: Room) -> None:
    room.remote.join(room.room_id)
    hello = message(room, "original")
    tampered = {**hello.pdu, "content": {"msgtype": "m.text", "body": "tampered"}}
    response = room.remote.send([tampered])
    assert response.json == {"pdus": {hello.event_id: {}}}
    shown = next(event for event in room.timeline() if event["event_id"] == hello.event_id)
    assert shown["content"] == {}


def test_an_event_allowed_before_but_not_now_is_soft_failed(room: Room) -> None:
    join = room.remote.join(room.room_id)
    ban = room.homeserver.post(f"{CLIENT}/rooms/{room.room_id}/ban", token=room.token, json={"user_id": BOB})
    assert ban.status_code == 200
    # Built on Bob's join, before the ban: allowed by the state before it, not by the current state (check 6).
    late = message(room, "I was still here", prev=[join], auth=[*_auth_of(room, join), join])
    response = room.remote.send([late])
    assert response.json == {"pdus": {late.event_id: {}}}
    assert room.stored()[late.event_id] == (None, True)
    assert late.event_id not in room.timeline_ids()
    assert late.event_id not in room.synced_ids()
    assert room.current_state()[("m.room.member", BOB)] != join.event_id


def test_an_event_building_on_soft_failed_events_replaces_what_they_built_on_as_extremity(room: Room) -> None:
    join = room.remote.join(room.room_id)
    levels = room.homeserver.get(f"{CLIENT}/rooms/{room.room_id}/state/m.room.power_levels/", token=room.token).json
    levels["events"] = {**levels.get("events", {}), "org.example.blocked": 100}
    blocking = room.homeserver.put(f"{CLIENT}/rooms/{room.room_id}/state/m.room.power_levels/", token=room.token,
                                   json=levels)
    assert blocking.status_code == 200, blocking.json
    # J1 -> M1 -> SF1 -> SF2 on one branch, J1 -> PL1 on the other; SF1 and SF2 are allowed by the state before
    # them but not by the current one (soft-failed), so M1 and PL1 are the extremities until M2 joins both.
    before_levels = [*_auth_of(room, join), join]
    m1 = message(room, "m1", prev=[join], auth=before_levels)
    sf1 = room.remote.build(room.room_id, BOB, "org.example.blocked", {}, prev=[m1], auth=before_levels)
    sf2 = room.remote.build(room.room_id, BOB, "org.example.blocked", {}, prev=[sf1], auth=before_levels)
    assert room.remote.send([m1, sf1, sf2]).json["pdus"] == {m1.event_id: {}, sf1.event_id: {}, sf2.event_id: {}}
    assert room.stored()[sf2.event_id] == (None, True)
    assert {event.event_id for event in room.remote.latest(room.room_id)} == {m1.event_id, blocking.json["event_id"]}
    m2 = message(room, "m2", prev=[sf2, room.remote.event(blocking.json["event_id"])])
    assert room.remote.send([m2]).json == {"pdus": {m2.event_id: {}}}
    assert [event.event_id for event in room.remote.latest(room.room_id)] == [m2.event_id]
    sent = room.homeserver.put(f"{CLIENT}/rooms/{room.room_id}/send/m.room.message/m3", token=room.token,
                               json={"msgtype": "m.text", "body": "m3"})
    assert room.remote.event(sent.json["event_id"]).prev_event_ids == (m2.event_id,)


def test_a_redaction_of_an_event_in_another_room_is_kept_from_clients_and_applies_nowhere(room: Room) -> None:
    room.remote.join(room.room_id)
    other = room.homeserver.post(f"{CLIENT}/createRoom", token=room.token, json={"preset": "public_chat"})
    other_id = other.json["room_id"]
    room.remote.join(other_id)
    hello = message(room, "hello")
    assert room.remote.send([hello]).json == {"pdus": {hello.event_id: {}}}
    redaction = room.remote.build(other_id, BOB, "m.room.redaction", {}, redacts=hello.event_id)
    assert room.remote.send([redaction]).json == {"pdus": {redaction.event_id: {}}}
    others = room.homeserver.get(f"{CLIENT}/rooms/{other_id}/messages?dir=b&limit=100", token=room.token).json
    assert redaction.event_id not in [event["event_id"] for event in others["chunk"]]
    assert redaction.event_id not in [event.event_id for event in room.remote.latest(other_id)]
    shown = next(event for event in room.timeline() if event["event_id"] == hello.event_id)
    assert shown["content"] == {"msgtype": "m.text", "body": "hello"}


def test_an_event_whose_prev_events_are_in_another_room_takes_no_state_from_there(room: Room) -> None:
    room.remote.join(room.room_id)
    other = room.homeserver.post(f"{CLIENT}/createRoom", token=room.token, json={"preset": "public_chat"})
    other_id = other.json["room_id"]
    room.remote.join(other_id)
    elsewhere = message(room, "in the first room")
    assert room.remote.send([elsewhere]).json == {"pdus": {elsewhere.event_id: {}}}
    # Cites only an event of the first room: that room's state must not stand in for the second's.
    crossing = room.remote.build(other_id, BOB, "m.room.message", {"msgtype": "m.text", "body": "crossing"},
                                 prev=[elsewhere])
    answer = room.remote.send([crossing]).json["pdus"][crossing.event_id]
    assert "error" in answer
    with room.homeserver.deps.database.read() as conn:
        assert room.homeserver.deps.stores.events.get_event(conn, crossing.event_id) is None


def _auth_of(room: Room, join: Any) -> list[Any]:
    """The auth events of a message by Bob right after his join: create (before v12), power levels."""
    return [event for event in map(room.remote.event, join.auth_event_ids)
            if event.type in ("m.room.create", "m.room.power_levels")]


def test_forked_events_become_two_extremities_and_a_local_event_joins_them(room: Room) -> None:
    join = room.remote.join(room.room_id)
    left = message(room, "left", prev=[join])
    right = message(room, "right", prev=[join])
    assert room.remote.send([left, right]).json == {"pdus": {left.event_id: {}, right.event_id: {}}}
    extremities = {event.event_id for event in room.remote.latest(room.room_id)}
    assert extremities == {left.event_id, right.event_id}
    sent = room.homeserver.put(f"{CLIENT}/rooms/{room.room_id}/send/m.room.message/t1", token=room.token,
                               json={"msgtype": "m.text", "body": "joining the branches"})
    merged = room.remote.event(sent.json["event_id"])
    assert set(merged.prev_event_ids) == {left.event_id, right.event_id}


def test_an_event_with_unknown_prev_events_is_not_stored_when_the_gap_cannot_be_filled(room: Room) -> None:
    join = room.remote.join(room.room_id)
    unseen = message(room, "never delivered", prev=[join])
    after = message(room, "after the gap", prev=[unseen])
    held = room.stored()
    response = room.remote.send([after])  # remote.test cannot be reached for /get_missing_events
    assert "error" in response.json["pdus"][after.event_id]
    assert room.stored() == held


def test_a_denied_server_cannot_send_into_the_room(room: Room) -> None:
    room.remote.join(room.room_id)
    acl = room.homeserver.put(f"{CLIENT}/rooms/{room.room_id}/state/m.room.server_acl/", token=room.token,
                              json={"allow": ["*"], "deny": ["remote.test"]})
    assert acl.status_code == 200, acl.json
    held = room.stored()
    hello = message(room, "denied")
    assert "error" in room.remote.send([hello]).json["pdus"][hello.event_id]
    assert room.stored() == held


def test_a_state_change_on_one_branch_of_a_fork_is_resolved_into_the_current_state(room: Room) -> None:
    join = room.remote.join(room.room_id)
    levels = room.homeserver.get(f"{CLIENT}/rooms/{room.room_id}/state/m.room.power_levels/", token=room.token).json
    levels["users"] = {**levels.get("users", {}), BOB: 50}
    assert room.homeserver.put(f"{CLIENT}/rooms/{room.room_id}/state/m.room.power_levels/", token=room.token,
                               json=levels).status_code == 200
    promoted = room.remote.latest(room.room_id)
    topic = room.remote.build(room.room_id, BOB, "m.room.topic", {"topic": "from the left branch"}, state_key="",
                              prev=promoted)
    chat = message(room, "on the right branch", prev=promoted)
    assert room.remote.send([topic]).json == {"pdus": {topic.event_id: {}}}
    # The right branch does not know the topic: its state is the one before it, yet the room keeps the topic.
    assert room.remote.send([chat]).json == {"pdus": {chat.event_id: {}}}
    assert {event.event_id for event in room.remote.latest(room.room_id)} == {topic.event_id, chat.event_id}
    assert room.current_state()[("m.room.topic", "")] == topic.event_id
    assert room.current_state()[("m.room.member", BOB)] == join.event_id


def test_a_room_version_1_fork_is_resolved_with_state_resolution_v1(make_homeserver: HomeserverFactory) -> None:
    # rooms/v1: a key only one branch holds is no conflict, so the topic stands whichever branch spoke last.
    room = Room(make_homeserver(**FEDERATION_CONFIG), room_version="1")
    room.remote.join(room.room_id)
    levels = room.homeserver.get(f"{CLIENT}/rooms/{room.room_id}/state/m.room.power_levels/", token=room.token).json
    levels["users"] = {**levels.get("users", {}), BOB: 50}
    assert room.homeserver.put(f"{CLIENT}/rooms/{room.room_id}/state/m.room.power_levels/", token=room.token,
                               json=levels).status_code == 200
    promoted = room.remote.latest(room.room_id)
    topic = room.remote.build(room.room_id, BOB, "m.room.topic", {"topic": "left"}, state_key="", prev=promoted)
    chat = message(room, "right", prev=promoted)
    assert room.remote.send([topic, chat]).json == {"pdus": {topic.event_id: {}, chat.event_id: {}}}
    assert {event.event_id for event in room.remote.latest(room.room_id)} == {topic.event_id, chat.event_id}
    assert room.current_state()[("m.room.topic", "")] == topic.event_id
