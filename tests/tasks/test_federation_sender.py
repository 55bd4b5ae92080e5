"""The outbound federation sender against a recording remote server, on both databases: what a destination gets
(every local event of a shared room, in order, batched), how a failing one is backed off and caught up, that a
transaction id only ever carries one body, and that no request goes where the config forbids."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from persistence.database import Database
from protocol.federation.request_auth import parse_authorization
from tasks.background import SWEEP_DESTINATIONS
from tasks.context import TaskContext
from tasks.envelope import Stamp
from tasks.federation.fan_out import QUEUE_EDU, QUEUE_PDUS, SEND_TO_DESTINATION, queue_edu
from tasks.federation.sender import MAX_EDUS, MAX_PDUS, send_to_destination
from tasks.ledger import run_body
from tasks.registry import catalogue
from tests.clock import FakeClock
from tests.federation_remote import RemoteServer, running_remote_server
from tests.tasks.factories import RecordingDispatcher
from tests.tasks.federation_fixtures import ALICE, BOB, ROOM, federation_context, pump, say, shared_room

REMOTE = "remote.test"


@pytest.fixture
def remote() -> Iterator[RemoteServer]:
    with running_remote_server() as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def dispatcher() -> RecordingDispatcher:
    return RecordingDispatcher()


@pytest.fixture
def context(database: Database, remote: RemoteServer, clock: FakeClock,
            dispatcher: RecordingDispatcher) -> TaskContext:
    context = federation_context(database, {REMOTE: remote.base_url}, clock, dispatcher)
    shared_room(context, BOB)
    pump(context, dispatcher)
    remote.received.clear()
    return context


def _state(context: TaskContext, destination: str = REMOTE) -> object:
    with context.database.read() as conn:
        return context.stores.federation_sending.get_destination(conn, destination)


def _last_event(context: TaskContext) -> str:
    with context.database.read() as conn:
        [event_id] = context.stores.events.list_forward_extremities(conn, ROOM)
    return event_id


def test_a_local_event_reaches_the_servers_joined_to_the_room_signed(context: TaskContext, remote: RemoteServer,
                                                                      dispatcher: RecordingDispatcher) -> None:
    event_id = say(context, "hello")
    assert dispatcher.sent[-1] == (QUEUE_PDUS, {"room_id": ROOM, "event_ids": [event_id]})
    pump(context, dispatcher)
    [received] = remote.received
    assert received.bodies == ["hello"]
    assert received.body["origin"] == "test.local"
    authorization = parse_authorization(received.authorization or "")
    assert (authorization.origin, authorization.destination) == ("test.local", REMOTE)


def test_events_of_remote_senders_and_rooms_without_remote_members_are_not_sent(
        context: TaskContext, remote: RemoteServer, dispatcher: RecordingDispatcher) -> None:
    from tasks.events import create_event
    create_event(context, room_id=ROOM, sender=BOB, event_type="m.room.message",
                 content={"msgtype": "m.text", "body": "from bob"})
    pump(context, dispatcher)
    assert remote.received == []


def test_pdus_go_in_order_at_most_fifty_and_edus_at_most_a_hundred_per_transaction(
        context: TaskContext, remote: RemoteServer, dispatcher: RecordingDispatcher) -> None:
    bodies = [f"m{i}" for i in range(120)]
    for body in bodies:
        say(context, body)
    for i in range(150):
        queue_edu(context, shard_key=REMOTE, edu_type="m.direct_to_device", destinations=[REMOTE],
                  content={"sender": ALICE, "type": "m.x", "message_id": str(i), "messages": {}})
    pokes = [kwargs for name, kwargs in dispatcher.sent if name == QUEUE_PDUS]
    dispatcher.sent.clear()
    for kwargs in pokes:  # the fan-outs first, then one sender drains everything
        run_body(catalogue()[QUEUE_PDUS], context, kwargs, Stamp.new())
    dispatcher.sent.clear()
    send_to_destination(context, destination=REMOTE)
    sizes = [(len(item.body["pdus"]), len(item.body["edus"])) for item in remote.received]
    assert sizes == [(MAX_PDUS, MAX_EDUS), (MAX_PDUS, 50), (20, 0)]
    assert [body for item in remote.received for body in item.bodies] == bodies
    ids = [edu["message_id"] for item in remote.received for edu in item.edus("m.direct_to_device")]
    assert ids == [str(i) for i in range(150)]
    assert len({item.txn_id for item in remote.received}) == 3


def test_a_failing_destination_backs_off_and_gets_the_same_transaction_again(
        context: TaskContext, remote: RemoteServer, dispatcher: RecordingDispatcher, clock: FakeClock) -> None:
    remote.status = 500
    say(context, "first")
    pump(context, dispatcher)
    [failed] = remote.received
    state = _state(context)
    assert (state.failures, state.retry_interval_ms, state.retry_at_ts) == (1, 1000, clock.now_ms() + 1000)
    remote.status = 200
    assert send_to_destination(context, destination=REMOTE) == 0  # still backing off: nothing sent
    assert len(remote.received) == 1
    clock.advance(1000)
    run_body(catalogue()[SWEEP_DESTINATIONS], context, {}, Stamp.new())
    pump(context, dispatcher)
    retried = remote.received[1]
    assert (retried.txn_id, retried.body) == (failed.txn_id, failed.body)
    state = _state(context)
    assert (state.failures, state.retry_at_ts, state.catching_up) == (0, None, False)  # it missed nothing else


def test_backoff_multiplies_per_failure_up_to_the_maximum(database: Database, remote: RemoteServer) -> None:
    clock = FakeClock()
    context = federation_context(database, {REMOTE: remote.base_url}, clock,
                                 federation={"destination_min_retry_interval": "1s",
                                             "destination_retry_multiplier": 3,
                                             "destination_max_retry_interval": "5s", "client_timeout": "2s"})
    remote.status = 503
    queue_edu(context, shard_key=REMOTE, edu_type="m.direct_to_device", destinations=[REMOTE],
              content={"sender": ALICE, "type": "m.x", "message_id": "1", "messages": {}})
    intervals = []
    for _ in range(4):
        send_to_destination(context, destination=REMOTE)
        state = _state(context)
        intervals.append(state.retry_interval_ms)
        clock.advance(state.retry_interval_ms)
    assert intervals == [1000, 3000, 5000, 5000]
    assert len(remote.transactions()) == 1  # one transaction, tried four times


def test_a_destination_that_comes_back_is_caught_up_with_the_latest_event_of_each_room(
        context: TaskContext, remote: RemoteServer, dispatcher: RecordingDispatcher, clock: FakeClock) -> None:
    remote.status = 500
    say(context, "while it fails")
    pump(context, dispatcher)
    for body in ("missed 1", "missed 2", "missed 3"):
        say(context, body)
    pump(context, dispatcher)
    assert len(remote.received) == 1  # backing off: the new events were not even tried
    remote.status = 200
    clock.advance(1000)
    run_body(catalogue()[SWEEP_DESTINATIONS], context, {}, Stamp.new())
    pump(context, dispatcher)
    first, catch_up = remote.received[1:]
    assert first.bodies == ["while it fails"]
    assert catch_up.bodies == ["missed 3"]  # the room's forward extremity; the rest it fetches if it wants them
    say(context, "live again")
    pump(context, dispatcher)
    assert remote.received[-1].bodies == ["live again"]
    assert _state(context).catching_up is False


def test_an_inbound_request_from_a_backed_off_destination_ends_its_backoff(
        context: TaskContext, remote: RemoteServer, dispatcher: RecordingDispatcher) -> None:
    remote.status = 500
    say(context, "lost")
    pump(context, dispatcher)
    remote.status = 200
    from tasks.api import DESTINATION_UP
    dispatcher.send(DESTINATION_UP, destination=REMOTE)
    pump(context, dispatcher)
    assert remote.received[-1].bodies == ["lost"]
    assert _state(context).retry_at_ts is None


def test_a_refused_transaction_is_dropped_without_backing_off(
        context: TaskContext, remote: RemoteServer, dispatcher: RecordingDispatcher) -> None:
    remote.status = 400
    say(context, "refused")
    pump(context, dispatcher)
    remote.status = 200
    say(context, "next")
    pump(context, dispatcher)
    assert [item.bodies for item in remote.received] == [["refused"], ["next"]]
    assert _state(context).failures == 0


def test_a_redelivered_send_task_sends_nothing(context: TaskContext, remote: RemoteServer,
                                               dispatcher: RecordingDispatcher) -> None:
    say(context, "once")
    [(name, kwargs)] = dispatcher.sent[-1:]
    dispatcher.sent.clear()
    run_body(catalogue()[name], context, kwargs, Stamp.new())
    spec, stamp = catalogue()[SEND_TO_DESTINATION], Stamp.new()
    assert run_body(spec, context, {"destination": REMOTE}, stamp) == {"ok": 1}
    say(context, "twice?")
    dispatcher.sent.clear()
    run_body(catalogue()[name], context, {**kwargs, "event_ids": [_last_event(context)]}, Stamp.new())
    dispatcher.sent.clear()
    run_body(spec, context, {"destination": REMOTE}, stamp)  # the same message again: its id already ran
    assert [item.bodies for item in remote.received] == [["once"]]
    run_body(spec, context, {"destination": REMOTE}, Stamp.new())  # a new poke sends what is new
    assert [item.bodies for item in remote.received] == [["once"], ["twice?"]]


def test_one_transaction_in_flight_per_destination(context: TaskContext, remote: RemoteServer,
                                                   dispatcher: RecordingDispatcher) -> None:
    remote.release.clear()  # the remote holds the first request
    say(context, "slow")
    pokes = [kwargs for name, kwargs in dispatcher.sent if name == QUEUE_PDUS]
    dispatcher.sent.clear()
    run_body(catalogue()[QUEUE_PDUS], context, pokes[0], Stamp.new())
    first = threading.Thread(target=send_to_destination, args=(context,), kwargs={"destination": REMOTE})
    first.start()
    assert remote.arrived.wait(10)
    say(context, "meanwhile")
    # Its fan-out pokes a second sender, which finds the destination claimed and leaves it to the first.
    assert pump(context, dispatcher)[-1] == (SEND_TO_DESTINATION, {"ok": 0})
    remote.release.set()
    first.join(10)  # the first sender, done with its transaction, sends the next
    assert [item.bodies for item in remote.received] == [["slow"], ["meanwhile"]]


def test_a_sender_that_died_mid_send_leaves_the_same_transaction_to_the_next_after_its_claim(
        context: TaskContext, remote: RemoteServer, dispatcher: RecordingDispatcher, clock: FakeClock) -> None:
    from tasks.federation.sender import _claim, claim_ms
    say(context, "in flight")
    [(_, kwargs)] = [(n, k) for n, k in dispatcher.sent if n == QUEUE_PDUS]
    dispatcher.sent.clear()
    run_body(catalogue()[QUEUE_PDUS], context, kwargs, Stamp.new())
    txn = _claim(context, REMOTE)  # claimed and fixed, then the sender "dies" before sending
    assert txn is not None
    say(context, "later")
    pump(context, dispatcher)
    assert remote.received == []  # the dead sender's claim still holds
    clock.advance(claim_ms(context))
    run_body(catalogue()[SWEEP_DESTINATIONS], context, {}, Stamp.new())
    pump(context, dispatcher)
    assert remote.received[0].txn_id == txn.txn_id
    assert remote.received[0].body == txn.body
    assert [item.bodies for item in remote.received] == [["in flight"], ["later"]]


def test_no_request_goes_to_a_blacklisted_address(database: Database, remote: RemoteServer) -> None:
    dispatcher = RecordingDispatcher()
    # "localhost" is a name: it resolves to 127.0.0.1, which the default blacklist holds.
    context = federation_context(database, {REMOTE: f"http://localhost:{remote.port}"}, dispatcher=dispatcher,
                                 ip_range_whitelist=[])
    shared_room(context, BOB)
    say(context, "to a private address")
    pump(context, dispatcher)
    assert remote.received == []
    assert _state(context).failures == 1


def test_an_unreachable_destination_backs_off(database: Database) -> None:
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
    dispatcher = RecordingDispatcher()
    context = federation_context(database, {REMOTE: f"http://127.0.0.1:{port}"}, dispatcher=dispatcher)
    shared_room(context, BOB)
    say(context, "nobody home")
    pump(context, dispatcher)
    assert _state(context).failures == 1


def test_servers_outside_the_domain_whitelist_are_never_queued(database: Database, remote: RemoteServer) -> None:
    dispatcher = RecordingDispatcher()
    context = federation_context(database, {REMOTE: remote.base_url, "other.test": remote.base_url},
                                 dispatcher=dispatcher, federation_domain_whitelist=["other.test"])
    shared_room(context, BOB, "@carol:other.test")
    remote.received.clear()
    say(context, "only to other")
    pump(context, dispatcher)
    assert [item.bodies for item in remote.received] == [["only to other"]]
    assert parse_authorization(remote.received[0].authorization or "").destination == "other.test"
    assert _state(context, REMOTE) is None


def test_nothing_is_queued_when_no_instance_sends_federation(database: Database, remote: RemoteServer) -> None:
    dispatcher = RecordingDispatcher()
    context = federation_context(database, {REMOTE: remote.base_url}, dispatcher=dispatcher, send_federation=False)
    shared_room(context, BOB)
    say(context, "kept home")
    assert [name for name, _ in dispatcher.sent if name in (QUEUE_PDUS, QUEUE_EDU)] == []


def test_a_kicked_servers_last_pdu_is_its_kick(context: TaskContext, remote: RemoteServer,
                                              dispatcher: RecordingDispatcher) -> None:
    from tasks.events import create_event
    create_event(context, room_id=ROOM, sender=ALICE, event_type="m.room.member", state_key=BOB,
                 content={"membership": "leave"}, target_memberships=["join"])
    pump(context, dispatcher)
    say(context, "after the kick")
    pump(context, dispatcher)
    [received] = remote.received  # the kick (its target's server must hear of it), and nothing after
    [pdu] = received.body["pdus"]
    assert (pdu["type"], pdu["state_key"], pdu["content"]["membership"]) == ("m.room.member", BOB, "leave")


def test_a_membership_accepted_in_a_handshake_is_passed_on_to_the_rooms_other_servers(
        database: Database, remote: RemoteServer) -> None:
    from tasks.events import create_event
    from tasks.federation.fan_out import poke_federation
    dispatcher = RecordingDispatcher()
    other = "other.test"
    context = federation_context(database, {REMOTE: remote.base_url, other: remote.base_url}, dispatcher=dispatcher)
    shared_room(context, BOB)
    pump(context, dispatcher)
    remote.received.clear()
    carol = "@carol:other.test"
    create_event(context, room_id=ROOM, sender=carol, event_type="m.room.member", state_key=carol,
                 content={"membership": "join"})  # as if other.test's send_join had handed it over
    dispatcher.sent.clear()
    with context.database.read() as conn:
        [join_id] = context.stores.events.list_forward_extremities(conn, ROOM)
        join = context.stores.events.get_event(conn, join_id)
    assert join is not None
    poke_federation(context, ROOM, [join.event], on_behalf_of=other)
    pump(context, dispatcher)
    passed_on = [(parse_authorization(item.authorization or "").destination, pdu["state_key"])
                 for item in remote.received for pdu in item.body["pdus"]]
    assert passed_on == [(REMOTE, carol)]  # to bob's server, never back to carol's


def test_an_invite_is_not_sent_in_a_transaction_to_the_invitees_server(context: TaskContext, remote: RemoteServer,
                                                                       dispatcher: RecordingDispatcher) -> None:
    from tasks.events import create_event
    create_event(context, room_id=ROOM, sender=BOB, event_type="m.room.member", state_key=BOB,
                 content={"membership": "leave"})  # the room is ours alone again
    pump(context, dispatcher)
    create_event(context, room_id=ROOM, sender=ALICE, event_type="m.room.member", state_key="@carol:remote.test",
                 content={"membership": "invite"})  # its server heard of it through /invite
    pump(context, dispatcher)
    assert remote.received == []
