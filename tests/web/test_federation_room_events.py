"""Serving a room's events to a server in it (``/event``, ``/state``, ``/state_ids``, ``/event_auth``,
``/backfill``, ``/get_missing_events``), refusing servers outside it or denied by its ACL, and filling a gap in
received events by asking the origin's ``/get_missing_events`` (Server-Server API, "Retrieving events",
"Backfilling and retrieving missing events")."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, quote, unquote, urlparse

import pytest

from protocol.events.model import Event
from tests.conftest import HomeserverFactory
from tests.web.federation_peers import FEDERATION_CONFIG, REMOTE
from tests.web.remote_server import BOB
from tests.web.test_federation_send import ALICE, CLIENT, Room, message

FED = "/_matrix/federation/v1"


@pytest.fixture
def room(make_homeserver: HomeserverFactory) -> Room:
    return Room(make_homeserver(**FEDERATION_CONFIG))


def q(value: str) -> str:
    return quote(value, safe="")


def test_state_ids_and_state_are_the_state_before_the_event(room: Room) -> None:
    join = room.remote.join(room.room_id)
    hello = message(room, "hello")
    room.remote.send([hello])
    ids = room.remote.request("GET", f"{FED}/state_ids/{q(room.room_id)}?event_id={q(join.event_id)}")
    assert ids.status_code == 200, ids.json
    assert join.event_id not in ids.json["pdu_ids"]  # the state *before* Bob's join
    state_after_join = room.current_state()
    assert set(ids.json["pdu_ids"]) == {event_id for key, event_id in state_after_join.items()
                                        if key != ("m.room.member", BOB)}
    at_hello = room.remote.request("GET", f"{FED}/state_ids/{q(room.room_id)}?event_id={q(hello.event_id)}")
    assert set(at_hello.json["pdu_ids"]) == set(state_after_join.values())
    assert set(at_hello.json["auth_chain_ids"]) <= set(state_after_join.values())
    full = room.remote.request("GET", f"{FED}/state/{q(room.room_id)}?event_id={q(hello.event_id)}")
    assert {Event.from_pdu(pdu, join.room_version).event_id for pdu in full.json["pdus"]} == set(
        state_after_join.values())


def test_event_and_event_auth(room: Room) -> None:
    join = room.remote.join(room.room_id)
    got = room.remote.request("GET", f"{FED}/event/{q(join.event_id)}")
    assert got.status_code == 200, got.json
    assert got.json["pdus"] == [dict(join.pdu)]
    chain = room.remote.request("GET", f"{FED}/event_auth/{q(room.room_id)}/{q(join.event_id)}")
    chain_ids = {Event.from_pdu(pdu, join.room_version).event_id for pdu in chain.json["auth_chain"]}
    assert set(join.auth_event_ids) <= chain_ids
    assert join.event_id not in chain_ids


def test_backfill_walks_back_from_the_named_events(room: Room) -> None:
    join = room.remote.join(room.room_id)
    first = message(room, "one", prev=[join])
    room.remote.send([first])
    second = message(room, "two")
    room.remote.send([second])
    response = room.remote.request("GET", f"{FED}/backfill/{q(room.room_id)}?v={q(second.event_id)}&limit=3")
    assert response.status_code == 200, response.json
    ids = [Event.from_pdu(pdu, join.room_version).event_id for pdu in response.json["pdus"]]
    assert ids == [second.event_id, first.event_id, join.event_id]
    assert response.json["origin"] == room.homeserver.config.server_name


def test_get_missing_events_answers_the_events_between_oldest_first(room: Room) -> None:
    join = room.remote.join(room.room_id)
    one = message(room, "one")
    room.remote.send([one])
    two = message(room, "two")
    room.remote.send([two])
    response = room.remote.request("POST", f"{FED}/get_missing_events/{q(room.room_id)}",
                                   {"earliest_events": [join.event_id], "latest_events": [two.event_id],
                                    "limit": 10})
    assert response.status_code == 200, response.json
    ids = [Event.from_pdu(pdu, join.room_version).event_id for pdu in response.json["events"]]
    assert ids == [one.event_id]


def test_a_server_not_in_the_room_or_denied_by_its_acl_is_forbidden(room: Room) -> None:
    create_id = room.current_state()[("m.room.create", "")]
    outside = room.remote.request("GET", f"{FED}/state_ids/{q(room.room_id)}?event_id={q(create_id)}")
    assert (outside.status_code, outside.json["errcode"]) == (403, "M_FORBIDDEN")
    room.remote.join(room.room_id)
    acl = room.homeserver.put(f"{CLIENT}/rooms/{room.room_id}/state/m.room.server_acl/", token=room.token,
                              json={"allow": ["*"], "deny": [REMOTE]})
    assert acl.status_code == 200
    for path in (f"/event/{q(create_id)}", f"/backfill/{q(room.room_id)}?v={q(create_id)}",
                 f"/state_ids/{q(room.room_id)}?event_id={q(create_id)}"):
        denied = room.remote.request("GET", FED + path)
        assert (denied.status_code, denied.json["errcode"]) == (403, "M_FORBIDDEN"), path


def test_unknown_rooms_and_events_are_not_found_and_event_id_is_required(room: Room) -> None:
    room.remote.join(room.room_id)
    assert room.remote.request("GET", f"{FED}/event/{q('$nothing')}").status_code == 404
    assert room.remote.request("GET", f"{FED}/state_ids/{q('!nowhere:test.local')}?event_id=x").status_code == 404
    missing = room.remote.request("GET", f"{FED}/state_ids/{q(room.room_id)}")
    assert (missing.status_code, missing.json["errcode"]) == (400, "M_MISSING_PARAM")


class _RemoteHttp(BaseHTTPRequestHandler):
    """The remote's federation API, answering from what the test put here: ``/get_missing_events`` (``missing``),
    ``/event/{id}`` (``events``) and ``/state_ids`` (``state_ids`` by event id). Requests are recorded."""

    missing: ClassVar[list[dict[str, Any]]] = []
    events: ClassVar[dict[str, dict[str, Any]]] = {}
    state_ids: ClassVar[dict[str, dict[str, list[str]]]] = {}
    asked: ClassVar[list[tuple[str, Any]]] = []

    def _answer(self, status: int, value: Any) -> None:
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        type(self).asked.append((self.path, json.loads(self.rfile.read(length))))
        self._answer(200, {"events": type(self).missing})

    def do_GET(self) -> None:
        parsed = urlparse(self.path)
        if parsed.path.startswith(f"{FED}/user/devices/"):
            # Bob's device list, resynced when he joins a room shared with local users: not what these tests
            # follow (room events and the order they are asked for), and this remote keeps no devices.
            self._answer(404, {"errcode": "M_NOT_FOUND", "error": "Not found"})
            return
        type(self).asked.append((parsed.path, parse_qs(parsed.query)))
        if parsed.path.startswith(f"{FED}/event/"):
            event = type(self).events.get(unquote(parsed.path.rpartition("/")[2]))
            if event is not None:
                self._answer(200, {"origin": REMOTE, "origin_server_ts": 0, "pdus": [event]})
                return
        if parsed.path.startswith(f"{FED}/state_ids/"):
            state = type(self).state_ids.get(parse_qs(parsed.query).get("event_id", [""])[0])
            if state is not None:
                self._answer(200, state)
                return
        self._answer(404, {"errcode": "M_NOT_FOUND", "error": "Not found"})

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def remote_http() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RemoteHttp)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _RemoteHttp.missing, _RemoteHttp.events, _RemoteHttp.state_ids, _RemoteHttp.asked = [], {}, {}, []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_gap_is_filled_from_the_origins_get_missing_events(make_homeserver: HomeserverFactory,
                                                              remote_http: str) -> None:
    room = Room(make_homeserver(**{**FEDERATION_CONFIG, "federation_test_hosts": {REMOTE: remote_http}}))
    join = room.remote.join(room.room_id)
    unseen = message(room, "never delivered", prev=[join])
    after = message(room, "after the gap", prev=[unseen])
    _RemoteHttp.missing = [dict(unseen.pdu)]
    response = room.remote.send([after])
    assert response.json == {"pdus": {after.event_id: {}}}
    path, asked = _RemoteHttp.asked[0]
    assert path == f"{FED}/get_missing_events/{q(room.room_id)}"
    assert (asked["latest_events"], asked["earliest_events"]) == ([after.event_id], [join.event_id])
    assert room.timeline_ids()[-2:] == [unseen.event_id, after.event_id]


def test_a_gap_left_after_get_missing_events_is_judged_on_the_state_the_origin_reports(
        make_homeserver: HomeserverFactory, remote_http: str) -> None:
    room = Room(make_homeserver(**{**FEDERATION_CONFIG, "federation_test_hosts": {REMOTE: remote_http}}))
    room.remote.join(room.room_id)
    # Bob may set "org.example.topic" state (power level 0 needed), in an event this server never gets.
    power = room.current_state()[("m.room.power_levels", "")]
    levels = dict(room.remote.event(power).content)
    levels["events"] = {**levels.get("events", {}), "org.example.topic": 0}
    allowed = room.homeserver.put(f"{CLIENT}/rooms/{room.room_id}/state/m.room.power_levels/", token=room.token,
                                  json=levels)
    assert allowed.status_code == 200, allowed.json
    state_before_unseen = room.current_state()
    unseen = room.remote.build(room.room_id, BOB, "org.example.topic", {"topic": "unseen"}, state_key="")
    pulled = message(room, "brought by get_missing_events", prev=[unseen])
    after = message(room, "after the gap", prev=[pulled])
    _RemoteHttp.missing = [dict(pulled.pdu)]
    _RemoteHttp.events = {unseen.event_id: dict(unseen.pdu)}
    _RemoteHttp.state_ids = {unseen.event_id: {"pdu_ids": sorted(state_before_unseen.values()),
                                               "auth_chain_ids": []}}
    response = room.remote.send([after])
    assert response.json == {"pdus": {after.event_id: {}}}
    assert [path for path, _ in _RemoteHttp.asked][:3] == [
        f"{FED}/get_missing_events/{q(room.room_id)}", f"{FED}/state_ids/{q(room.room_id)}",
        f"{FED}/event/{q(unseen.event_id)}"]
    assert room.current_state()[("org.example.topic", "")] == unseen.event_id
    assert room.timeline_ids()[-2:] == [pulled.event_id, after.event_id]


def test_a_received_events_own_gap_is_not_closed_through_state_ids(make_homeserver: HomeserverFactory,
                                                                    remote_http: str) -> None:
    room = Room(make_homeserver(**{**FEDERATION_CONFIG, "federation_test_hosts": {REMOTE: remote_http}}))
    join = room.remote.join(room.room_id)
    unseen = message(room, "withheld", prev=[join])
    after = message(room, "after the withheld one", prev=[unseen])
    held = room.stored()
    response = room.remote.send([after])  # /get_missing_events answers nothing
    assert "error" in response.json["pdus"][after.event_id]
    assert [path for path, _ in _RemoteHttp.asked] == [f"{FED}/get_missing_events/{q(room.room_id)}"]
    assert room.stored() == held


def test_events_of_an_erased_user_are_served_redacted(room: Room) -> None:
    room.remote.join(room.room_id)
    sent = room.homeserver.put(f"{CLIENT}/rooms/{room.room_id}/send/m.room.message/t1", token=room.token,
                               json={"msgtype": "m.text", "body": "forget me"})
    event_id = sent.json["event_id"]
    before = room.remote.request("GET", f"{FED}/event/{q(event_id)}")
    assert before.json["pdus"][0]["content"]["body"] == "forget me"
    gone = room.homeserver.post(f"{CLIENT}/account/deactivate", token=room.token,
                                json={"erase": True, "auth": room.homeserver.password_auth(ALICE)})
    assert gone.status_code == 200, gone.json
    after = room.remote.request("GET", f"{FED}/event/{q(event_id)}")
    assert after.status_code == 200, after.json
    assert after.json["pdus"][0]["content"] == {}


def test_a_rejected_prev_event_from_a_gap_adds_nothing_to_the_state(make_homeserver: HomeserverFactory,
                                                                   remote_http: str) -> None:
    room = Room(make_homeserver(**{**FEDERATION_CONFIG, "federation_test_hosts": {REMOTE: remote_http}}))
    room.remote.join(room.room_id)
    state_before_unseen = room.current_state()
    # Bob may not name the room (power level 50 needed): the unseen event is rejected once fetched.
    unseen = room.remote.build(room.room_id, BOB, "m.room.name", {"name": "hijacked"}, state_key="")
    pulled = message(room, "brought by get_missing_events", prev=[unseen])
    after = message(room, "after the gap", prev=[pulled])
    _RemoteHttp.missing = [dict(pulled.pdu)]
    _RemoteHttp.events = {unseen.event_id: dict(unseen.pdu)}
    _RemoteHttp.state_ids = {unseen.event_id: {"pdu_ids": sorted(state_before_unseen.values()),
                                               "auth_chain_ids": []}}
    assert room.remote.send([after]).json == {"pdus": {after.event_id: {}}}
    assert room.stored()[unseen.event_id][0] is not None  # rejected
    assert ("m.room.name", "") not in room.current_state()
    assert room.timeline_ids()[-2:] == [pulled.event_id, after.event_id]


def test_a_forged_power_levels_event_in_a_reported_state_takes_no_power(make_homeserver: HomeserverFactory,
                                                                       remote_http: str) -> None:
    room = Room(make_homeserver(**{**FEDERATION_CONFIG, "federation_test_hosts": {REMOTE: remote_http}}))
    join = room.remote.join(room.room_id)
    real = room.current_state()
    levels = dict(room.remote.event(real[("m.room.power_levels", "")]).content)
    forged = room.remote.build(room.room_id, BOB, "m.room.power_levels",
                               {**levels, "users": {BOB: 100}}, state_key="", prev=[join])
    unseen = message(room, "unseen", prev=[join])
    pulled = message(room, "brought by get_missing_events", prev=[unseen])
    after = message(room, "after the gap", prev=[pulled])
    reported = {**real, ("m.room.power_levels", ""): forged.event_id}
    _RemoteHttp.missing = [dict(pulled.pdu)]
    _RemoteHttp.events = {event.event_id: dict(event.pdu) for event in (forged, unseen)}
    _RemoteHttp.state_ids = {unseen.event_id: {"pdu_ids": sorted(reported.values()), "auth_chain_ids": []}}
    assert room.remote.send([after]).json == {"pdus": {after.event_id: {}}}
    assert room.stored()[forged.event_id][0] is not None  # rejected: Bob had no power to change power levels
    # No rejected event is part of a state, whatever the origin reported: not the state at the received event...
    at_after = room.remote.request("GET", f"{FED}/state_ids/{q(room.room_id)}?event_id={q(after.event_id)}")
    assert forged.event_id not in at_after.json["pdu_ids"]
    # ...nor the room's current state.
    assert room.current_state()[("m.room.power_levels", "")] == real[("m.room.power_levels", "")]
    rename = room.remote.build(room.room_id, BOB, "m.room.name", {"name": "mine"}, state_key="")
    room.remote.send([rename])
    assert ("m.room.name", "") not in room.current_state()
