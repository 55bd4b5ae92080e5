"""Email pushers mail a missed message once, after ``email.notif_delay``, to a real SMTP server (aiosmtpd), on
both databases: not before the delay, not when read before it, not twice however the task is delivered, not again
within its room's throttle (each room throttled on its own, growing with each email); a message the SMTP server
refused is retried after a backoff and sent once, one it may have taken is never sent again; the email has a text
and an HTML body with the message escaped and a working unsubscribe link."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from persistence.database import Database
from persistence.stores.pushers import PusherFields
from protocol.room_creation import RoomRequest, create_content, initial_events
from protocol.room_versions import KNOWN_ROOM_VERSIONS
from protocol.sync_tokens import WriterPositions
from protocol.unsubscribe_tokens import secret_of, verify
from tasks.context import TaskContext
from tasks.email_pushers import EMAIL_FOR_USER, THROTTLE_MAX_MS, email_for_user, sweep_email_pushers
from tasks.envelope import Stamp
from tasks.events import create_event, create_room
from tasks.ledger import run_body
from tasks.receipts import put_receipt
from tasks.registry import catalogue
from tests.clock import FakeClock
from tests.smtp_server import SmtpServer, body_of, running_smtp_server
from tests.tasks.factories import RecordingDispatcher, make_context

ALICE, BOB = "@alice:test.local", "@bob:test.local"
ROOM = "!mail:test.local"
BOBS_ADDRESS = "bob@example.org"
SUBJECT = "[Ganglion Test] You have"
DELAY_MS, THROTTLE_MS = 60_000, 3_600_000


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with running_smtp_server() as server:
        yield server


def _context(database: Database, smtp: SmtpServer, clock: FakeClock,
             dispatcher: RecordingDispatcher | None = None) -> TaskContext:
    email: dict[str, Any] = {"enable_notifs": True, "smtp_host": "127.0.0.1", "smtp_port": smtp.port,
                             "notif_from": "%(app)s <noreply@test.local>", "app_name": "Ganglion Test",
                             "client_base_url": "https://client.example.org", "notif_delay": DELAY_MS,
                             "notif_throttle": "1h"}
    return make_context(database, clock=clock, dispatcher=dispatcher, email=email)


def _private_room_with_bob(context: TaskContext, room_id: str, name: str | None = None) -> None:
    """Alice's private room (named, if ``name``), Bob invited and joined."""
    version = KNOWN_ROOM_VERSIONS["10"]
    request = RoomRequest("private_chat")
    templates = initial_events(request, ALICE, version, {})
    create_room(context, room_id=room_id, room_version="10", creator=ALICE,
                create_content=create_content(request, ALICE, version), origin_server_ts=context.clock.now_ms(),
                initial_events=[{"type": t.type, "content": dict(t.content), "state_key": t.state_key}
                                for t in templates])
    if name is not None:
        create_event(context, room_id=room_id, sender=ALICE, event_type="m.room.name", state_key="",
                     content={"name": name})
    create_event(context, room_id=room_id, sender=ALICE, event_type="m.room.member", state_key=BOB,
                 content={"membership": "invite"})
    create_event(context, room_id=room_id, sender=BOB, event_type="m.room.member", state_key=BOB,
                 content={"membership": "join"})


def _room_with_bobs_email_pusher(context: TaskContext) -> None:
    _private_room_with_bob(context, ROOM, name="Mail room")
    fields = PusherFields("email", "m.email", BOBS_ADDRESS, "Email", BOBS_ADDRESS, None, "en", {})
    with context.database.write() as conn:
        positions = WriterPositions.of_writers(context.stores.stream_ids.get_positions(conn, "events"))
        context.stores.pushers.upsert_pusher(conn, BOB, "PHONE", fields, context.clock.now_ms(), positions,
                                             append=False)


def _message(context: TaskContext, body: str) -> str:
    event_id: str = create_event(context, room_id=ROOM, sender=ALICE, event_type="m.room.message",
                                 content={"msgtype": "m.text", "body": body})["event_id"]
    return event_id


def test_a_missed_message_is_mailed_once_after_the_delay(database: Database, smtp: SmtpServer) -> None:
    clock, dispatcher = FakeClock(), RecordingDispatcher()
    context = _context(database, smtp, clock, dispatcher)
    _room_with_bobs_email_pusher(context)
    _message(context, "lunch <b>now</b>?")
    assert email_for_user(context, user_id=BOB) == 0  # not missed yet
    assert sweep_email_pushers(context) == 0
    clock.advance(DELAY_MS)
    dispatcher.sent.clear()
    assert sweep_email_pushers(context) == 1 and dispatcher.sent == [(EMAIL_FOR_USER, {"user_id": BOB})]
    spec = catalogue()[EMAIL_FOR_USER]
    stamp = Stamp.new()
    assert run_body(spec, context, {"user_id": BOB}, stamp) == {"ok": 1}
    run_body(spec, context, {"user_id": BOB}, stamp)  # the same message again
    run_body(spec, context, {"user_id": BOB}, Stamp.new())  # another poke: the pusher is past the message
    assert sweep_email_pushers(context) == 0
    [(sender, recipients, message)] = smtp.received
    assert recipients == [BOBS_ADDRESS] and sender == "noreply@test.local"
    assert message["From"] == "Ganglion Test <noreply@test.local>" and message["To"] == BOBS_ADDRESS
    assert message["Subject"] == f"{SUBJECT} a message in Mail room on Ganglion Test from {ALICE}"
    text, page = body_of(message, "plain"), body_of(message, "html")
    assert "@alice:test.local: lunch <b>now</b>?" in text
    assert "lunch &lt;b&gt;now&lt;/b&gt;?" in page and "<b>now</b>" not in page
    assert "https://client.example.org/#/room/!mail:test.local" in page
    link = message["List-Unsubscribe"].strip("<>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in text
    parts = urlsplit(link)
    assert parts.path == "/_synapse/client/unsubscribe"
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert (query["user_id"], query["app_id"], query["pushkey"]) == (BOB, "m.email", BOBS_ADDRESS)
    assert verify(secret_of(context.signing_key), query["token"], BOB, "m.email", BOBS_ADDRESS)


def test_a_message_read_before_the_delay_is_not_mailed(database: Database, smtp: SmtpServer) -> None:
    clock = FakeClock()
    context = _context(database, smtp, clock)
    _room_with_bobs_email_pusher(context)
    event_id = _message(context, "seen in time")
    put_receipt(context, room_id=ROOM, user_id=BOB, receipt_type="m.read", event_id=event_id, thread_id=None)
    clock.advance(DELAY_MS)
    assert email_for_user(context, user_id=BOB) == 0
    assert sweep_email_pushers(context) == 0  # the pusher moved past what was read
    assert smtp.received == []


def test_what_is_missed_during_the_throttle_comes_in_the_next_email(database: Database, smtp: SmtpServer) -> None:
    clock = FakeClock()
    context = _context(database, smtp, clock)
    _room_with_bobs_email_pusher(context)
    _message(context, "first")
    clock.advance(DELAY_MS)
    assert email_for_user(context, user_id=BOB) == 1
    _message(context, "second")
    _message(context, "third")
    clock.advance(DELAY_MS)
    assert email_for_user(context, user_id=BOB) == 0  # throttled
    clock.advance(THROTTLE_MS)
    assert email_for_user(context, user_id=BOB) == 1
    first, second = smtp.messages()
    assert "first" in body_of(first, "plain")
    later = body_of(second, "plain")
    assert "second" in later and "third" in later and "first" not in later
    assert second["Subject"] == f"{SUBJECT} 2 messages in Mail room on Ganglion Test from {ALICE}"


def test_two_deliveries_at_once_mail_once(database: Database, smtp: SmtpServer) -> None:
    clock = FakeClock()
    context = _context(database, smtp, clock)
    _room_with_bobs_email_pusher(context)
    _message(context, "once")
    clock.advance(DELAY_MS)
    threads = [threading.Thread(target=email_for_user, args=(context,), kwargs={"user_id": BOB})
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(smtp.received) == 1


def test_nothing_is_mailed_when_notifications_are_off(database: Database, smtp: SmtpServer) -> None:
    clock = FakeClock()
    context = make_context(database, clock=clock, email={"notif_from": "noreply@test.local",
                                                         "smtp_port": smtp.port})
    _room_with_bobs_email_pusher(context)
    _message(context, "quiet")
    clock.advance(DELAY_MS)
    assert sweep_email_pushers(context) == 0 and email_for_user(context, user_id=BOB) == 0
    assert smtp.received == []


OTHER_ROOM = "!other:test.local"


def _other_room_with_bob(context: TaskContext) -> None:
    _private_room_with_bob(context, OTHER_ROOM)


def test_each_room_is_throttled_on_its_own_and_the_throttle_grows(database: Database, smtp: SmtpServer) -> None:
    clock = FakeClock()
    context = _context(database, smtp, clock)
    _room_with_bobs_email_pusher(context)
    _other_room_with_bob(context)
    _message(context, "in the mail room")
    clock.advance(DELAY_MS)
    assert email_for_user(context, user_id=BOB) == 1  # the mail room is throttled from now on
    create_event(context, room_id=OTHER_ROOM, sender=ALICE, event_type="m.room.message",
                 content={"msgtype": "m.text", "body": "in the other room"})
    clock.advance(DELAY_MS)
    assert sweep_email_pushers(context) == 1 and email_for_user(context, user_id=BOB) == 1  # not throttled
    assert "in the other room" in body_of(smtp.messages()[1], "plain")

    _message(context, "again in the mail room")
    clock.advance(DELAY_MS)
    assert sweep_email_pushers(context) == 0 and email_for_user(context, user_id=BOB) == 0  # throttled
    clock.advance(THROTTLE_MS)
    assert email_for_user(context, user_id=BOB) == 1
    _message(context, "a third time")
    clock.advance(THROTTLE_MS + DELAY_MS)  # the throttle grew past notif_throttle (to a day)
    assert sweep_email_pushers(context) == 0 and email_for_user(context, user_id=BOB) == 0
    clock.advance(THROTTLE_MAX_MS)
    assert email_for_user(context, user_id=BOB) == 1
    assert len(smtp.received) == 4


def test_a_refused_email_is_retried_after_a_backoff_and_sent_once(database: Database, smtp: SmtpServer) -> None:
    clock = FakeClock()
    context = _context(database, smtp, clock)
    _room_with_bobs_email_pusher(context)
    _message(context, "try again")
    clock.advance(DELAY_MS)
    smtp.refusing = True
    assert email_for_user(context, user_id=BOB) == 0
    smtp.refusing = False
    assert email_for_user(context, user_id=BOB) == 0 and sweep_email_pushers(context) == 0  # backing off
    clock.advance(1000)
    assert sweep_email_pushers(context) == 1 and email_for_user(context, user_id=BOB) == 1
    assert email_for_user(context, user_id=BOB) == 0
    [message] = smtp.messages()
    assert "try again" in body_of(message, "plain")


def test_an_email_the_server_may_have_taken_is_never_sent_again(database: Database, smtp: SmtpServer) -> None:
    clock = FakeClock()
    context = _context(database, smtp, clock)
    _room_with_bobs_email_pusher(context)
    _message(context, "only once")
    clock.advance(DELAY_MS)
    smtp.dropping = True  # it takes the message and hangs up before answering
    email_for_user(context, user_id=BOB)
    smtp.dropping = False
    clock.advance(THROTTLE_MS + 60_000)
    assert sweep_email_pushers(context) == 0 and email_for_user(context, user_id=BOB) == 0
    assert len(smtp.received) == 1
