"""The pusher task sends each notification once per pusher, on both databases, however its message arrives:
delivered twice (same task id or not), twice at once, or after a delivery died holding its claim."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from persistence.database import Database
from persistence.stores.pushers import PusherFields
from protocol.events.builder import EventTemplate
from protocol.room_creation import RoomRequest, create_content, initial_events
from protocol.room_versions import KNOWN_ROOM_VERSIONS
from protocol.sync_tokens import WriterPositions
from tasks.context import TaskContext
from tasks.envelope import Stamp
from tasks.events import create_event, create_room
from tasks.ledger import run_body
from tasks.pushers import CLAIM_MS, PUSH_FOR_USER, push_for_user, sweep_pushers
from tasks.registry import catalogue
from tests.clock import FakeClock
from tests.push_gateway import PushGateway, running_push_gateway
from tests.tasks.factories import RecordingDispatcher, make_context

ALICE, BOB = "@alice:test.local", "@bob:test.local"
ROOM = "!push:test.local"


@pytest.fixture
def gateway() -> Iterator[PushGateway]:
    with running_push_gateway() as running:
        yield running


def _room_with_bobs_pusher(context: TaskContext, gateway: PushGateway) -> None:
    version = KNOWN_ROOM_VERSIONS["10"]
    request = RoomRequest("private_chat")
    templates: list[EventTemplate] = initial_events(request, ALICE, version, {})
    create_room(context, room_id=ROOM, room_version="10", creator=ALICE,
                create_content=create_content(request, ALICE, version), origin_server_ts=0,
                initial_events=[{"type": t.type, "content": dict(t.content), "state_key": t.state_key}
                                for t in templates])
    create_event(context, room_id=ROOM, sender=ALICE, event_type="m.room.member", state_key=BOB,
                 content={"membership": "invite"})
    create_event(context, room_id=ROOM, sender=BOB, event_type="m.room.member", state_key=BOB,
                 content={"membership": "join"})
    fields = PusherFields("http", "org.example.app", "bob-phone", "Example", "Phone", None, "en",
                          {"url": gateway.url})
    with context.database.write() as conn:
        positions = WriterPositions.of_writers(context.stores.stream_ids.get_positions(conn, "events"))
        context.stores.pushers.upsert_pusher(conn, BOB, "PHONE", fields, context.clock.now_ms(), positions,
                                             append=False)


def _message(context: TaskContext, body: str) -> str:
    event_id: str = create_event(context, room_id=ROOM, sender=ALICE, event_type="m.room.message",
                                 content={"msgtype": "m.text", "body": body})["event_id"]
    return event_id


def test_the_events_writer_pokes_the_pusher_of_a_notified_user(database: Database, gateway: PushGateway) -> None:
    dispatcher = RecordingDispatcher()
    context = make_context(database, dispatcher=dispatcher)
    _room_with_bobs_pusher(context, gateway)
    dispatcher.sent.clear()
    _message(context, "hello")
    assert dispatcher.sent == [(PUSH_FOR_USER, {"user_id": BOB})]


def test_a_task_delivered_twice_pushes_once(database: Database, gateway: PushGateway) -> None:
    context = make_context(database)
    _room_with_bobs_pusher(context, gateway)
    event_id = _message(context, "hello")
    spec = catalogue()[PUSH_FOR_USER]
    stamp = Stamp.new()
    assert run_body(spec, context, {"user_id": BOB}, stamp) == {"ok": 1}
    run_body(spec, context, {"user_id": BOB}, stamp)  # the same message again: the ledger knows its id
    run_body(spec, context, {"user_id": BOB}, Stamp.new())  # another poke: the pusher is past the event
    assert [n["event_id"] for n in gateway.events()] == [event_id]


def test_two_deliveries_at_once_push_once(database: Database, gateway: PushGateway) -> None:
    context = make_context(database)
    _room_with_bobs_pusher(context, gateway)
    sent = [_message(context, f"message {index}") for index in range(3)]
    threads = [threading.Thread(target=push_for_user, args=(context,), kwargs={"user_id": BOB}) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    push_for_user(context, user_id=BOB)  # whatever the loser of a claim left is sent now, once
    assert [n["event_id"] for n in gateway.events()] == sent


def test_a_delivery_that_died_holding_its_claim_is_retried_after_the_claim_runs_out(
        database: Database, gateway: PushGateway) -> None:
    clock = FakeClock()
    dispatcher = RecordingDispatcher()
    context = make_context(database, clock=clock, dispatcher=dispatcher)
    _room_with_bobs_pusher(context, gateway)
    event_id = _message(context, "hello")
    with database.write() as conn:  # a worker claimed the pusher, then died before recording anything
        [pusher] = context.stores.pushers.list_pushers(conn, BOB)
        context.stores.pushers.claim_pusher(conn, pusher.id, clock.now_ms(), clock.now_ms() + CLAIM_MS)
    assert push_for_user(context, user_id=BOB) == 0
    dispatcher.sent.clear()
    assert sweep_pushers(context) == 0
    clock.advance(CLAIM_MS)
    assert sweep_pushers(context) == 1 and dispatcher.sent == [(PUSH_FOR_USER, {"user_id": BOB})]
    assert push_for_user(context, user_id=BOB) == 1
    assert [n["event_id"] for n in gateway.events()] == [event_id]


def test_the_sweep_repokes_a_pusher_whose_poke_was_lost(database: Database, gateway: PushGateway) -> None:
    dispatcher = RecordingDispatcher()  # records pokes and runs nothing: as if each one were lost
    context = make_context(database, dispatcher=dispatcher)
    _room_with_bobs_pusher(context, gateway)
    event_id = _message(context, "lost poke")
    dispatcher.sent.clear()
    assert sweep_pushers(context) == 1
    assert dispatcher.sent == [(PUSH_FOR_USER, {"user_id": BOB})]
    push_for_user(context, user_id=BOB)
    assert [n["event_id"] for n in gateway.events()] == [event_id]
    dispatcher.sent.clear()
    assert sweep_pushers(context) == 0  # caught up: nothing to re-poke
    assert dispatcher.sent == []
