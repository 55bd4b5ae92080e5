"""Application service transactions, on both databases: the interesting events in stream order, batched, under
increasing transaction ids; a failed transaction is sent again later under the same id with the same events,
never lost and never doubled, however the delivery task's message arrives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from persistence.database import Database
from persistence.stores.devices import Device
from persistence.stores.users import User
from protocol.events.builder import EventTemplate
from protocol.room_creation import RoomRequest, create_content, initial_events
from protocol.room_versions import KNOWN_ROOM_VERSIONS
from protocol.sync_tokens import WriterPositions
from tasks.appservices import BATCH, DELIVER, clamp, deliver, deliver_all, start_new_appservices
from tasks.context import TaskContext
from tasks.device_lists import STREAM as DEVICE_LISTS
from tasks.device_lists import drain as drain_device_lists
from tasks.envelope import Stamp
from tasks.events import create_event, create_room
from tasks.ledger import run_body
from tasks.receipts import put_receipt
from tasks.registry import catalogue
from tasks.to_device import send as send_to_device
from tasks.typing_notifications import set_typing
from tests.appservice_double import HS_TOKEN, AppServiceDouble, registration, running_appservice
from tests.clock import FakeClock
from tests.tasks.factories import RecordingDispatcher, make_context

ALICE, PUPPET = "@alice:test.local", "@bridge_puppet:test.local"
BRIDGED, PRIVATE = "!bridged:test.local", "!private:test.local"


@pytest.fixture
def appservice() -> Iterator[AppServiceDouble]:
    with running_appservice() as running:
        yield running


def _context(database: Database, appservice: AppServiceDouble, tmp_path: Path, **kwargs: object) -> TaskContext:
    path = registration(tmp_path, url=appservice.url)
    context = make_context(database, app_service_config_files=[path], **kwargs)  # type: ignore[arg-type]
    start_new_appservices(context.database, context.stores, context.config.appservices)
    return context


def _room(context: TaskContext, room_id: str) -> None:
    version = KNOWN_ROOM_VERSIONS["10"]
    request = RoomRequest("public_chat")
    templates: list[EventTemplate] = initial_events(request, ALICE, version, {})
    create_room(context, room_id=room_id, room_version="10", creator=ALICE,
                create_content=create_content(request, ALICE, version), origin_server_ts=0,
                initial_events=[{"type": t.type, "content": dict(t.content), "state_key": t.state_key}
                                for t in templates])


def _say(context: TaskContext, room_id: str, body: str, sender: str = ALICE) -> str:
    event_id: str = create_event(context, room_id=room_id, sender=sender, event_type="m.room.message",
                                 content={"msgtype": "m.text", "body": body})["event_id"]
    return event_id


def _bridged_rooms(context: TaskContext) -> None:
    """A room the puppet joined, and one with nobody of the appservice's in it."""
    _room(context, BRIDGED)
    _room(context, PRIVATE)
    create_event(context, room_id=BRIDGED, sender=PUPPET, event_type="m.room.member", state_key=PUPPET,
                 content={"membership": "join"})


def test_the_events_writer_pokes_each_appservice(database: Database, appservice: AppServiceDouble,
                                                  tmp_path: Path) -> None:
    dispatcher = RecordingDispatcher()
    context = _context(database, appservice, tmp_path, dispatcher=dispatcher)
    _room(context, PRIVATE)
    dispatcher.sent.clear()
    _say(context, PRIVATE, "hello")
    assert (DELIVER, {"appservice_id": "bridge"}) in dispatcher.sent


def test_interesting_events_arrive_in_order_and_others_not(database: Database, appservice: AppServiceDouble,
                                                           tmp_path: Path) -> None:
    context = _context(database, appservice, tmp_path)
    _bridged_rooms(context)
    said = [_say(context, BRIDGED, f"m{n}") for n in range(3)]
    _say(context, PRIVATE, "not for the bridge")
    assert deliver(context, appservice_id="bridge") == 1
    events = appservice.events()
    messages = [e["event_id"] for e in events if e["type"] == "m.room.message"]
    assert messages == said
    assert all(e["room_id"] == BRIDGED for e in events)
    join = next(e for e in events if e["type"] == "m.room.member" and e["state_key"] == PUPPET)
    assert join["sender"] == PUPPET and join["content"] == {"membership": "join"}
    assert list(appservice.transactions) == ["1"]
    assert deliver(context, appservice_id="bridge") == 0  # nothing new: no empty transaction


def test_an_appservice_added_later_starts_from_now(database: Database, appservice: AppServiceDouble,
                                                   tmp_path: Path) -> None:
    context = make_context(database)
    _room(context, BRIDGED)
    create_event(context, room_id=BRIDGED, sender=PUPPET, event_type="m.room.member", state_key=PUPPET,
                 content={"membership": "join"})
    _say(context, BRIDGED, "before the bridge")
    context = _context(database, appservice, tmp_path)
    after = _say(context, BRIDGED, "after")
    deliver(context, appservice_id="bridge")
    assert [e["event_id"] for e in appservice.events()] == [after]


def test_a_failed_transaction_is_resent_with_its_id_and_events(database: Database, appservice: AppServiceDouble,
                                                               tmp_path: Path) -> None:
    clock = FakeClock()
    context = _context(database, appservice, tmp_path, clock=clock)
    _bridged_rooms(context)
    first = _say(context, BRIDGED, "first")
    appservice.failing = True
    assert deliver(context, appservice_id="bridge") == 0
    appservice.failing = False
    second = _say(context, BRIDGED, "second")
    assert deliver(context, appservice_id="bridge") == 0  # backing off: nothing sent yet
    clock.advance(1000)
    assert deliver(context, appservice_id="bridge") == 2
    assert list(appservice.transactions) == ["1", "2"]
    assert first in [e["event_id"] for e in appservice.transactions["1"]]
    assert [e["event_id"] for e in appservice.transactions["2"]] == [second]
    ids = [e["event_id"] for e in appservice.events()]
    assert len(ids) == len(set(ids))


def test_a_delivery_message_arriving_twice_or_beside_another_sends_once(
        database: Database, appservice: AppServiceDouble, tmp_path: Path) -> None:
    context = _context(database, appservice, tmp_path)
    _bridged_rooms(context)
    said = _say(context, BRIDGED, "once")
    spec = catalogue()[DELIVER]
    stamp = Stamp.new()
    run_body(spec, context, {"appservice_id": "bridge"}, stamp)
    run_body(spec, context, {"appservice_id": "bridge"}, stamp)
    deliver(context, appservice_id="bridge")
    assert appservice.received == ["1"]
    assert [e["event_id"] for e in appservice.events()].count(said) == 1


def test_the_periodic_job_pokes_each_appservice_on_its_own_shard(database: Database, appservice: AppServiceDouble,
                                                                 tmp_path: Path) -> None:
    dispatcher = RecordingDispatcher()
    other = registration(tmp_path, url=appservice.url, name="other", as_token="other-as", hs_token="other-hs")
    context = make_context(database, dispatcher=dispatcher,
                           app_service_config_files=[registration(tmp_path, url=appservice.url), other,
                                                     registration(tmp_path, url=None, name="urlless",
                                                                  as_token="u-as", hs_token="u-hs")])
    assert deliver_all(context) == 2
    assert dispatcher.sent == [(DELIVER, {"appservice_id": "bridge"}), (DELIVER, {"appservice_id": "other"})]
    assert appservice.received == [], "it sends nothing itself: each delivery runs where its appservice's shard is"
    assert catalogue()[DELIVER].shard_key({"appservice_id": "other"}) == "other"


def test_a_delivery_that_died_after_sending_resends_the_same_transaction(
        database: Database, appservice: AppServiceDouble, tmp_path: Path) -> None:
    clock = FakeClock()
    context = _context(database, appservice, tmp_path, clock=clock)
    _bridged_rooms(context)
    _say(context, BRIDGED, "hello")
    from tasks import appservices as module

    service = context.config.appservices.by_id("bridge")
    assert service is not None
    claimed = module._claim(context, service)  # a delivery claims and sends, then its worker dies
    assert claimed is not None and claimed.txn is not None
    module.put_transaction(service, claimed.txn.txn_id, claimed.txn.body)
    _say(context, BRIDGED, "later")
    assert deliver(context, appservice_id="bridge") == 0  # the dead delivery's claim still holds
    clock.advance(module.CLAIM_MS + 1)
    assert deliver(context, appservice_id="bridge") == 2
    assert appservice.received == ["1", "1", "2"]  # the same id again: the appservice drops the repeat
    assert len(appservice.events()) == len({e["event_id"] for e in appservice.events()})


def test_many_events_are_batched(database: Database, appservice: AppServiceDouble, tmp_path: Path) -> None:
    context = _context(database, appservice, tmp_path)
    _bridged_rooms(context)
    said = [_say(context, BRIDGED, f"m{n}", sender=PUPPET) for n in range(BATCH + 5)]
    assert deliver(context, appservice_id="bridge") == 2
    assert [e["event_id"] for e in appservice.events() if e["type"] == "m.room.message"] == said
    assert all(len(events) <= BATCH for events in appservice.transactions.values())


def test_clamp_moves_each_writer_only_as_far_as_it_was_read() -> None:
    since = WriterPositions(5, (("a", 10),))
    until = WriterPositions(20, (("b", 30),))
    assert clamp(since, until, 8) == WriterPositions(8, (("a", 10),))
    assert clamp(since, until, 25) == WriterPositions(20, (("b", 25),))
    assert clamp(since, until, 40) == until


def test_ephemeral_events_go_to_an_appservice_that_asked_for_them(database: Database, appservice: AppServiceDouble,
                                                                 tmp_path: Path) -> None:
    path = registration(tmp_path, url=appservice.url, receive_ephemeral=True)
    context = make_context(database, app_service_config_files=[path])
    start_new_appservices(context.database, context.stores, context.config.appservices)
    _bridged_rooms(context)
    said = _say(context, BRIDGED, "read me")
    set_typing(context, room_id=BRIDGED, user_id=ALICE, typing=True, timeout_ms=30_000)
    set_typing(context, room_id=PRIVATE, user_id=ALICE, typing=True, timeout_ms=30_000)
    put_receipt(context, room_id=BRIDGED, user_id=ALICE, receipt_type="m.read", event_id=said, thread_id=None)
    deliver(context, appservice_id="bridge")
    typing = [e for e in appservice.ephemeral if e["type"] == "m.typing"]
    assert typing == [{"type": "m.typing", "room_id": BRIDGED, "content": {"user_ids": [ALICE]}}]
    receipts = [e for e in appservice.ephemeral if e["type"] == "m.receipt"]
    assert receipts and receipts[0]["room_id"] == BRIDGED
    assert ALICE in receipts[0]["content"][said]["m.read"]
    sent = len(appservice.ephemeral)
    deliver(context, appservice_id="bridge")
    assert len(appservice.ephemeral) == sent  # each once


def test_an_appservice_that_did_not_ask_gets_no_ephemeral_events(database: Database, appservice: AppServiceDouble,
                                                                tmp_path: Path) -> None:
    context = _context(database, appservice, tmp_path)
    _bridged_rooms(context)
    set_typing(context, room_id=BRIDGED, user_id=ALICE, typing=True, timeout_ms=30_000)
    deliver(context, appservice_id="bridge")
    assert appservice.ephemeral == []


def test_to_device_messages_for_puppets_go_to_the_appservice(database: Database, appservice: AppServiceDouble,
                                                            tmp_path: Path) -> None:
    path = registration(tmp_path, url=appservice.url, receive_ephemeral=True)
    context = make_context(database, app_service_config_files=[path])
    start_new_appservices(context.database, context.stores, context.config.appservices)
    with database.write() as conn:
        for user_id in (PUPPET, ALICE):
            context.stores.users.insert_user(conn, User(user_id, None, 0, False, False, None, deactivated=False))
        context.stores.devices.insert_device(conn, Device(PUPPET, "PUPPETDEV", None, 0, None, None))
        context.stores.devices.insert_device(conn, Device(ALICE, "ALICEDEV", None, 0, None, None))
    send_to_device(context, shard_key=PUPPET, sender=ALICE, sender_device="ALICEDEV", txn_id="t1",
                   event_type="m.room_key_request", messages={PUPPET: {"PUPPETDEV": {"n": 1}}})
    send_to_device(context, shard_key=ALICE, sender=PUPPET, sender_device="PUPPETDEV", txn_id="t2",
                   event_type="m.room_key_request", messages={ALICE: {"ALICEDEV": {"n": 2}}})
    deliver(context, appservice_id="bridge")
    assert appservice.to_device == [{"type": "m.room_key_request", "sender": ALICE, "content": {"n": 1},
                                     "to_user_id": PUPPET, "to_device_id": "PUPPETDEV"}]


def _device_change(context: TaskContext, user_id: str, device_id: str) -> None:
    """A device change as the web tier records it (an outbox row), written to the stream by its writer."""
    with context.database.write() as conn:
        context.stores.outbox.insert_item(conn, DEVICE_LISTS, user_id, {"device_id": device_id},
                                          context.clock.now_ms())
    drain_device_lists(context, user_id=user_id)


def test_msc3202_device_lists_and_key_counts_go_to_an_appservice_that_asked(
        database: Database, appservice: AppServiceDouble, tmp_path: Path) -> None:
    path = registration(tmp_path, url=appservice.url, **{"org.matrix.msc3202": True})
    context = make_context(database, app_service_config_files=[path])
    start_new_appservices(context.database, context.stores, context.config.appservices)
    _bridged_rooms(context)
    with database.write() as conn:
        for user_id in (PUPPET, ALICE):
            context.stores.users.insert_user(conn, User(user_id, None, 0, False, False, None, deactivated=False))
        context.stores.devices.insert_device(conn, Device(PUPPET, "PUPPETDEV", None, 0, None, None))
        context.stores.devices.insert_device(conn, Device(PUPPET, "BARE", None, 0, None, None))
        context.stores.e2e_keys.insert_one_time_keys(conn, PUPPET, "PUPPETDEV", [
            ("signed_curve25519", f"AAAA{n}", {"key": str(n)}) for n in range(2)], 0)
        context.stores.e2e_keys.upsert_fallback_key(conn, PUPPET, "PUPPETDEV", "signed_curve25519", "F1",
                                                    {"key": "f"})
    _device_change(context, ALICE, "ALICEDEV")  # shares the bridged room with the puppet
    _device_change(context, "@carol:test.local", "CAROLDEV")  # in no room of the bridge's
    said = _say(context, BRIDGED, "hello")
    deliver(context, appservice_id="bridge")
    [body] = appservice.bodies.values()
    assert said in [event["event_id"] for event in body["events"]]
    assert body["org.matrix.msc3202.device_lists"] == {"changed": [ALICE], "left": []}
    counts = {PUPPET: {"PUPPETDEV": {"signed_curve25519": 2}, "BARE": {}}}
    assert body["org.matrix.msc3202.device_one_time_key_counts"] == counts
    assert body["org.matrix.msc3202.device_one_time_keys_count"] == counts
    assert body["org.matrix.msc3202.device_unused_fallback_key_types"] == {
        PUPPET: {"PUPPETDEV": ["signed_curve25519"], "BARE": []}}

    _device_change(context, PUPPET, "NEWDEV")  # a change alone makes a transaction
    deliver(context, appservice_id="bridge")
    assert appservice.bodies["2"]["events"] == []
    assert appservice.bodies["2"]["org.matrix.msc3202.device_lists"] == {"changed": [PUPPET], "left": []}
    deliver(context, appservice_id="bridge")
    assert len(appservice.bodies) == 2  # each change once


def test_an_appservice_that_did_not_ask_gets_no_msc3202_fields(database: Database, appservice: AppServiceDouble,
                                                               tmp_path: Path) -> None:
    context = _context(database, appservice, tmp_path)
    _bridged_rooms(context)
    _device_change(context, ALICE, "ALICEDEV")
    _say(context, BRIDGED, "hello")
    deliver(context, appservice_id="bridge")
    assert appservice.bodies and not any(key.startswith("org.matrix.msc3202") for body in appservice.bodies.values()
                                         for key in body)


def test_an_appservice_refusing_our_hs_token_gets_the_transaction_again_once_it_accepts(
        database: Database, tmp_path: Path) -> None:
    """The appservice checks the hs_token we send (spec: it must refuse a wrong one); a refusal is a failed
    transaction, sent again under the same id, not a lost one."""
    clock = FakeClock()
    with running_appservice(hs_token="not-the-registered-one") as appservice:
        context = _context(database, appservice, tmp_path, clock=clock)
        _bridged_rooms(context)
        said = _say(context, BRIDGED, "hello")
        assert deliver(context, appservice_id="bridge") == 0
        assert appservice.requests and appservice.transactions == {}
        appservice.hs_token = HS_TOKEN
        clock.advance(1000)
        assert deliver(context, appservice_id="bridge") == 1
        assert list(appservice.transactions) == ["1"]
        assert said in [event["event_id"] for event in appservice.transactions["1"]]
