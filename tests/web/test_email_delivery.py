"""Missed-message emails from a running server to a real SMTP server (aiosmtpd), in both shapes: a message left
unread past ``notif_delay`` is mailed once, one read before it is not, and the email's unsubscribe link removes
the pusher.

In the worker shape the email goes the way a deployment's does: beat's sweep (run here by this server's clock)
pokes the email task, which the shared Celery worker runs with the same ``email`` section
(``tests.smtp_server.shared_email_config``) and mails to the session's SMTP server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tasks.background import SWEEP_EMAIL_PUSHERS
from tests.conftest import HomeserverFactory
from tests.homeserver import HomeserverUnderTest
from tests.smtp_server import SmtpServer, body_of, clear, shared_email_config

SET = "/_matrix/client/v3/pushers/set"
ROOMS = "/_matrix/client/v3/rooms"
ALICE = "@alice:test.local"
LATER_MS = 600_000
"""Past the delay by this server's fake clock (the worker shape's Celery worker judges by the real clock)."""
SWEEP_TIMEOUT = 30.0


@pytest.fixture
def smtp(shared_smtp_server: SmtpServer) -> Iterator[SmtpServer]:
    clear(shared_smtp_server)
    yield shared_smtp_server
    clear(shared_smtp_server)


@pytest.fixture
def mailing(make_homeserver: HomeserverFactory, smtp: SmtpServer) -> HomeserverUnderTest:
    return make_homeserver(email=shared_email_config(smtp.port))


def _sweep_until_mailed(homeserver: HomeserverUnderTest, smtp: SmtpServer) -> None:
    """Run beat's email sweep until a mail arrives: the worker shape's worker mails once a second of real time
    has passed since the message (its ``notif_delay``), and says nothing when asked before."""
    deadline = time.monotonic() + SWEEP_TIMEOUT
    while not smtp.messages():
        assert time.monotonic() < deadline, "no email arrived"
        homeserver.run_beat_job(SWEEP_EMAIL_PUSHERS)
        time.sleep(0.25)


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
    assert mailing.run_beat_job(SWEEP_EMAIL_PUSHERS) == 0  # not missed yet
    mailing.clock.advance(LATER_MS)
    _sweep_until_mailed(mailing, smtp)
    assert mailing.run_beat_job(SWEEP_EMAIL_PUSHERS) == 0  # the pusher is past the message
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
    # The email task finds it read and moves the pusher past it; the sweep then has nothing to poke.
    mailing.eventually(lambda: mailing.run_beat_job(SWEEP_EMAIL_PUSHERS) == 0, timeout=SWEEP_TIMEOUT)
    assert smtp.received == []
