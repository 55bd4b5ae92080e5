"""The presence writer: a stream position and a ring only for what clients must hear, timeouts at given cutoffs."""

from __future__ import annotations

from persistence.database import Database
from persistence.doorbell import LocalDoorbell, Ring
from protocol.presence import OFFLINE, ONLINE, UNAVAILABLE, Cutoffs, PresenceTimers, UserPresence
from tasks.background import sweep_presence
from tasks.context import TaskContext
from tasks.presence import TIME_OUT_PRESENCE, record_sync, set_presence, time_out
from tests.clock import FakeClock
from tests.tasks.factories import RecordingDispatcher, make_context

ALICE = "@alice:test.local"


def _context(database: Database, clock: FakeClock, dispatcher: RecordingDispatcher | None = None,
             **config: object) -> tuple[TaskContext, list[Ring]]:
    doorbell = LocalDoorbell()
    rings: list[Ring] = []
    doorbell.listen(rings.append)
    return make_context(database, clock=clock, doorbell=doorbell, dispatcher=dispatcher, **config), rings


def _recorded(context: TaskContext) -> UserPresence:
    with context.database.read() as conn:
        return context.stores.presence.get_presence(conn, ALICE)


def test_only_state_and_message_changes_take_a_position(database: Database) -> None:
    clock = FakeClock(1_000_000)
    context, rings = _context(database, clock)
    record_sync(context, user_id=ALICE, presence=ONLINE, wait_ms=30_000)
    assert [(ring.stream, ring.keys) for ring in rings] == [("presence", (ALICE,))]
    clock.advance(61_000)
    record_sync(context, user_id=ALICE, presence=ONLINE, wait_ms=30_000)
    assert len(rings) == 1, "newer activity is recorded in place"
    assert _recorded(context) == UserPresence(ALICE, ONLINE, None, 1_061_000, 1_091_000)
    set_presence(context, user_id=ALICE, presence=ONLINE, status_msg="here")
    set_presence(context, user_id=ALICE, presence=ONLINE, status_msg="here")
    assert len(rings) == 2 and rings[1].position > rings[0].position


def test_the_sweep_names_its_cutoffs_and_the_writer_applies_them_once(database: Database) -> None:
    clock, dispatcher = FakeClock(1_000_000), RecordingDispatcher()
    context, rings = _context(database, clock, dispatcher)
    record_sync(context, user_id=ALICE, presence=ONLINE, wait_ms=0)
    assert sweep_presence(context) == 0
    clock.advance(90_001)
    assert sweep_presence(context) == 1
    cutoffs = Cutoffs.at(1_090_001, PresenceTimers())
    assert dispatcher.sent == [(TIME_OUT_PRESENCE, {"user_id": ALICE, "idle_before": cutoffs.idle_before,
                                                    "synced_before": cutoffs.synced_before,
                                                    "active_before": cutoffs.active_before})]
    time_out(context, **dispatcher.sent[0][1])  # type: ignore[arg-type]
    time_out(context, **dispatcher.sent[0][1])  # type: ignore[arg-type]
    assert _recorded(context).state == OFFLINE and len(rings) == 2


def test_a_timeout_found_before_a_newer_sync_changes_nothing(database: Database) -> None:
    clock = FakeClock(1_000_000)
    context, rings = _context(database, clock)
    record_sync(context, user_id=ALICE, presence=UNAVAILABLE, wait_ms=0)
    stale = Cutoffs.at(1_200_000, PresenceTimers())
    clock.advance(200_000)
    record_sync(context, user_id=ALICE, presence=UNAVAILABLE, wait_ms=0)
    time_out(context, user_id=ALICE, idle_before=stale.idle_before, synced_before=stale.synced_before,
             active_before=stale.active_before)
    assert _recorded(context).state == UNAVAILABLE and len(rings) == 1


def test_untracked_presence_is_never_swept(database: Database) -> None:
    clock, dispatcher = FakeClock(1_000_000), RecordingDispatcher()
    context, _ = _context(database, clock, dispatcher, presence={"enabled": "untracked"})
    record_sync(context, user_id=ALICE, presence=ONLINE, wait_ms=0)
    clock.advance(10**7)
    assert sweep_presence(context) == 0 and dispatcher.sent == []
