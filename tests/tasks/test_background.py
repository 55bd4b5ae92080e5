"""Housekeeping: lost pokes are re-sent, leftovers expire, and beat sends both to the background queue."""

from __future__ import annotations

from celery.signals import before_task_publish

from config import parse_config
from ganglion.inline_beat import InlineBeat
from persistence.database import Database
from persistence.stores.ui_auth import UiAuthSession
from persistence.stores.user_directory import DirectoryEntry
from persistence.stores.users import User
from tasks.api import DRAIN_DEVICE_LISTS, REFRESH_USER_DIRECTORY
from tasks.appservices import DELIVER_ALL
from tasks.background import (
    DELETE_EXPIRED,
    FOLD_RETIRED_WRITERS,
    RECONCILE_USER_DIRECTORY,
    SCHEDULE_SECONDS,
    SWEEP_DESTINATIONS,
    SWEEP_EMAIL_PUSHERS,
    SWEEP_OUTBOX,
    SWEEP_PRESENCE,
    SWEEP_PUSHERS,
    SWEEP_TYPING,
    TASKS,
    beat_schedule,
    delete_expired,
    reconcile_user_directory,
    sign_beat_messages,
    sweep_outbox,
)
from tasks.context import TaskContext
from tasks.envelope import MAC_HEADER, Stamp, is_authentic
from tasks.event_expiry import SWEEP_EXPIRING_EVENTS
from tasks.media import APPLY_RETENTION
from tasks.registry import catalogue
from tests.clock import FakeClock
from tests.tasks.factories import RecordingDispatcher, make_context


def _context(database: Database, clock: FakeClock, dispatcher: RecordingDispatcher) -> TaskContext:
    return make_context(database, clock=clock, dispatcher=dispatcher)


def test_sweep_repokes_only_stale_outbox_keys(database: Database) -> None:
    clock, dispatcher = FakeClock(1_000_000), RecordingDispatcher()
    context = _context(database, clock, dispatcher)
    with database.write() as conn:
        context.stores.outbox.insert_item(conn, "device_lists", "@old:test.local", {"device_id": "D"}, 900_000)
        context.stores.outbox.insert_item(conn, "user_directory", "@old:test.local", {}, 900_000)
        context.stores.outbox.insert_item(conn, "device_lists", "@new:test.local", {"device_id": "D"}, 999_000)
    assert sweep_outbox(context) == 2
    assert sorted(dispatcher.sent) == sorted([
        (DRAIN_DEVICE_LISTS, {"user_id": "@old:test.local"}),
        (REFRESH_USER_DIRECTORY, {"user_id": "@old:test.local"}),
    ])


def test_delete_expired_drops_old_ui_auth_sessions_and_nonces(database: Database) -> None:
    clock = FakeClock(10 * 24 * 3600 * 1000)
    context = _context(database, clock, RecordingDispatcher())
    stores = context.stores
    now = clock.now_ms()
    with database.write() as conn:
        stores.ui_auth.insert_session(conn, UiAuthSession("old", now - 49 * 3600 * 1000, "op", None, [], {}))
        stores.ui_auth.insert_session(conn, UiAuthSession("fresh", now - 1000, "op", None, [], {}))
        stores.admin_nonces.insert_nonce(conn, "stale", now - 61_000)
        stores.admin_nonces.insert_nonce(conn, "live", now - 1_000)
    delete_expired(context)
    with database.write() as conn:
        assert stores.ui_auth.get_session(conn, "old") is None
        assert stores.ui_auth.get_session(conn, "fresh") is not None
        assert stores.admin_nonces.delete_nonce(conn, "stale", 0) is False
        assert stores.admin_nonces.delete_nonce(conn, "live", 0) is True


def test_beat_schedule_targets_the_background_instance() -> None:
    routing = parse_config({"server_name": "test.local", "run_background_tasks_on": "bg1"}).routing
    schedule = beat_schedule(routing)
    assert set(schedule) == {SWEEP_OUTBOX, DELETE_EXPIRED, SWEEP_TYPING, SWEEP_PRESENCE, RECONCILE_USER_DIRECTORY,
                             FOLD_RETIRED_WRITERS, APPLY_RETENTION, SWEEP_PUSHERS, SWEEP_EMAIL_PUSHERS,
                             DELIVER_ALL, SWEEP_DESTINATIONS, SWEEP_EXPIRING_EVENTS}
    assert all(entry["options"]["queue"] == "background" for name, entry in schedule.items()
               if name != APPLY_RETENTION)
    assert schedule[APPLY_RETENTION]["options"]["queue"] == "media"
    assert routing.queues_for_instance("bg1") == ("background",)


def test_each_periodic_message_is_stamped_and_signed_as_beat_sends_it() -> None:
    receiver = sign_beat_messages("secret")
    try:
        sent = [{"task": SWEEP_OUTBOX, "id": f"beat-{n}"} for n in range(2)]
        for headers in sent:
            before_task_publish.send(sender=SWEEP_OUTBOX, headers=headers, body=((), {}, {}))
    finally:
        before_task_publish.disconnect(receiver)
    for headers in sent:
        stamp = Stamp.read(str(headers["id"]), headers.get)
        assert stamp.issued_ms > 0
        assert is_authentic(("secret",), SWEEP_OUTBOX, {}, stamp, headers[MAC_HEADER])
    assert sent[0][MAC_HEADER] != sent[1][MAC_HEADER], "each message has its own id in its MAC"


def test_inline_beat_sends_periodic_tasks() -> None:
    dispatcher = RecordingDispatcher()
    beat = InlineBeat(dispatcher, {SWEEP_OUTBOX: 0.01})
    beat.start()
    try:
        assert dispatcher.event.wait(5)
    finally:
        beat.stop()
    assert dispatcher.sent[0] == (SWEEP_OUTBOX, {})


def test_media_jobs_are_not_scheduled_when_no_instance_runs_them() -> None:
    routing = parse_config({"server_name": "test.local", "enable_media_repo": False}).routing
    assert APPLY_RETENTION not in beat_schedule(routing)


def test_appservice_retries_are_not_scheduled_when_no_instance_notifies_appservices() -> None:
    routing = parse_config({"server_name": "test.local", "notify_appservices": False}).routing
    assert DELIVER_ALL not in beat_schedule(routing)


def test_every_background_job_is_on_the_schedule() -> None:
    assert {spec.name for spec in TASKS} | {APPLY_RETENTION, DELIVER_ALL} == set(SCHEDULE_SECONDS)
    assert catalogue()[DELIVER_ALL].family == "background", "it pokes each appservice's shard, so no one shard's"
    assert all(spec.family == "background" for spec in TASKS)


def test_delete_expired_forgets_day_old_send_transaction_ids(database: Database) -> None:
    clock = FakeClock(10 * 24 * 3600 * 1000)
    context = _context(database, clock, RecordingDispatcher())
    events = context.stores.events
    now = clock.now_ms()
    with database.write() as conn:
        events.insert_txn_event_id(conn, "@a:test.local", "D", "!r:test.local", "old", "$old", now - 25 * 3600_000)
        events.insert_txn_event_id(conn, "@a:test.local", "D", "!r:test.local", "new", "$new", now - 60_000)
    delete_expired(context)
    with database.read() as conn:
        assert events.get_txn_event_id(conn, "@a:test.local", "D", "!r:test.local", "old") is None
        assert events.get_txn_event_id(conn, "@a:test.local", "D", "!r:test.local", "new") == "$new"


def _user(user_id: str, *, deactivated: bool = False, is_guest: bool = False) -> User:
    return User(user_id, None, 0, is_guest, False, None, deactivated)


def test_reconcile_user_directory_pokes_only_users_whose_entry_is_wrong(database: Database) -> None:
    clock, dispatcher = FakeClock(1_000_000), RecordingDispatcher()
    context = _context(database, clock, dispatcher)
    stores = context.stores
    with database.write() as conn:
        for user in (_user("@fine:test.local"), _user("@missing:test.local"), _user("@renamed:test.local"),
                     _user("@gone:test.local", deactivated=True), _user("@guest:test.local", is_guest=True),
                     _user("@unlisted:test.local", deactivated=True)):
            stores.users.insert_user(conn, user)
            stores.profiles.insert_profile(conn, user.user_id, user.user_id[1:5])
        for user_id in ("@fine:test.local", "@renamed:test.local", "@gone:test.local", "@nobody:test.local"):
            stores.user_directory.upsert_entry(conn, DirectoryEntry(user_id, user_id[1:5], None), 0)
        stores.profiles.update_displayname(conn, "@renamed:test.local", "New name")
    assert reconcile_user_directory(context) == 4
    assert sorted(kwargs["user_id"] for _name, kwargs in dispatcher.sent) == [
        "@gone:test.local", "@missing:test.local", "@nobody:test.local", "@renamed:test.local"]
    assert {name for name, _kwargs in dispatcher.sent} == {REFRESH_USER_DIRECTORY}


def test_reconcile_user_directory_is_off_when_nobody_keeps_the_directory(database: Database) -> None:
    dispatcher = RecordingDispatcher()
    context = make_context(database, clock=FakeClock(0), dispatcher=dispatcher, update_user_directory=False)
    with database.write() as conn:
        context.stores.users.insert_user(conn, _user("@missing:test.local"))
        context.stores.profiles.insert_profile(conn, "@missing:test.local", "m")
    assert reconcile_user_directory(context) == 0
    assert dispatcher.sent == []
