"""Missed-message emails from a running server to a real SMTP server (aiosmtpd), in both shapes: a message left
unread past ``notif_delay`` is mailed once, one read before it is not, and the email's unsubscribe link removes
the pusher.

The shared Celery worker of the worker shape runs without an ``email`` section, so the email task's body is run
here with this server's configuration (as beat's jobs are, ``run_beat_job``), against that shape's PostgreSQL
and the events its worker wrote."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tasks.background import SWEEP_EMAIL_PUSHERS
from tasks.context import TaskContext
from tasks.email_pushers import email_for_user
from tests.conftest import HomeserverFactory
from tests.homeserver import HomeserverUnderTest
from tests.smtp_server import SmtpServer, body_of, running_smtp_server

SET = "/_matrix/client/v3/pushers/set"
ROOMS = "/_matrix/client/v3/rooms"
ALICE = "@alice:test.local"
DELAY_MS = 60_000
LATER_MS = DELAY_MS + 600_000
"""Past the delay by either clock: the worker shape's Celery worker stamps events by the real clock, which has
run on since this server's fake clock was set."""


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with running_smtp_server() as server:
        yield server


@pytest.fixture
def mailing(make_homeserver: HomeserverFactory, smtp: SmtpServer) -> HomeserverUnderTest:
    return make_homeserver(email={"enable_notifs": True, "smtp_host": "127.0.0.1", "smtp_port": smtp.port,
                                  "notif_from": "Ganglion <noreply@test.local>", "notif_delay": DELAY_MS})


def _mail_now(homeserver: HomeserverUnderTest, user_id: str) -> int:
    deps = homeserver.deps
    context = TaskContext(homeserver.config, deps.database, deps.stores, deps.doorbell, homeserver.clock,
                          deps.dispatcher, deps.signing_key)
    return email_for_user(context, user_id=user_id)


def _alice_with_an_email_pusher(homeserver: HomeserverUnderTest) -> tuple[str, str, str]:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = homeserver.post("/_matrix/client/v3/createRoom", token=bob,
                              json={"invite": [ALICE], "name": "Lunch"}).json["room_id"]
    assert homeserver.post(f"{ROOMS}/{room_id}/join", token=alice, json={}).status_code == 200
    pusher = {"kind": "email", "app_id": "m.email", "pushkey": "alice@example.org", "app_display_name": "Email",
              "device_display_name": "alice@example.org", "lang": "en", "data": {}}
    assert homeserver.post(SET, token=alice, json=pusher).status_code == 200
    return alice, bob, room_id


def _send(homeserver: HomeserverUnderTest, token: str, room_id: str, body: str, txn: str) -> str:
    response = homeserver.put(f"{ROOMS}/{room_id}/send/m.room.message/{txn}", token=token,
                              json={"msgtype": "m.text", "body": body})
    assert response.status_code == 200
    event_id: str = response.json["event_id"]
    return event_id


def test_a_missed_message_is_mailed_once_and_its_link_unsubscribes(mailing: HomeserverUnderTest,
                                                                   smtp: SmtpServer) -> None:
    alice, bob, room_id = _alice_with_an_email_pusher(mailing)
    _send(mailing, bob, room_id, "are you coming?", "t1")
    assert mailing.run_beat_job(SWEEP_EMAIL_PUSHERS) == 0 and _mail_now(mailing, ALICE) == 0  # not missed yet
    mailing.clock.advance(LATER_MS)
    assert mailing.run_beat_job(SWEEP_EMAIL_PUSHERS) == 1
    if mailing.shape == "workers":
        assert _mail_now(mailing, ALICE) == 1
    smtp.wait_for_messages(1)  # the monolith runs the sweep's task inline, in the background
    assert _mail_now(mailing, ALICE) == 0  # past the message, and throttled
    [message] = smtp.messages()
    assert message["To"] == "alice@example.org"
    assert message["Subject"] == "[Matrix] You have a message in Lunch on Matrix from bob"
    assert "bob: are you coming?" in body_of(message, "plain")
    link = urlsplit(message["List-Unsubscribe"].strip("<>"))
    assert mailing.get(f"{link.path}?{link.query}").status_code == 200
    assert mailing.get("/_matrix/client/v3/pushers", token=alice).json["pushers"] == []


def test_a_message_read_before_the_delay_is_not_mailed(mailing: HomeserverUnderTest, smtp: SmtpServer) -> None:
    alice, bob, room_id = _alice_with_an_email_pusher(mailing)
    event_id = _send(mailing, bob, room_id, "read in time", "t1")
    receipt = mailing.post(f"{ROOMS}/{room_id}/receipt/m.read/{event_id}", token=alice, json={})
    assert receipt.status_code == 200
    mailing.clock.advance(LATER_MS)
    mailing.run_beat_job(SWEEP_EMAIL_PUSHERS)
    assert _mail_now(mailing, ALICE) == 0
    assert mailing.run_beat_job(SWEEP_EMAIL_PUSHERS) == 0
    assert smtp.received == []
