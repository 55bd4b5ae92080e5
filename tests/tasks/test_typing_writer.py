"""The typing writer: a stream position and a ring only when a room's set of typers changes."""

from __future__ import annotations

from persistence.database import Database
from persistence.doorbell import LocalDoorbell, Ring
from persistence.stores.typing_notifications import STOPPED
from tasks.background import sweep_typing
from tasks.context import TaskContext
from tasks.typing_notifications import EXPIRE_TYPING, expire_typing, set_typing
from tests.clock import FakeClock
from tests.tasks.factories import RecordingDispatcher, make_context

ROOM = "!room:test.local"
ALICE, BOB = "@alice:test.local", "@bob:test.local"


def _context(database: Database, clock: FakeClock,
             dispatcher: RecordingDispatcher | None = None) -> tuple[TaskContext, list[Ring]]:
    doorbell = LocalDoorbell()
    rings: list[Ring] = []
    doorbell.listen(rings.append)
    return make_context(database, clock=clock, doorbell=doorbell, dispatcher=dispatcher), rings


def _expiries(context: TaskContext) -> dict[str, int]:
    with context.database.read() as conn:
        return context.stores.typing.get_room_expiries(conn, ROOM)


def test_only_changes_to_the_set_of_typers_take_a_position(database: Database) -> None:
    clock = FakeClock(1_000_000)
    context, rings = _context(database, clock)
    set_typing(context, room_id=ROOM, user_id=ALICE, typing=True, timeout_ms=30_000)
    assert [(ring.stream, ring.keys) for ring in rings] == [("typing", (ROOM,))]
    clock.advance(10_000)
    set_typing(context, room_id=ROOM, user_id=ALICE, typing=True, timeout_ms=30_000)
    assert len(rings) == 1, "a refresh changes nothing clients see"
    assert _expiries(context) == {ALICE: 1_040_000}
    set_typing(context, room_id=ROOM, user_id=BOB, typing=False, timeout_ms=0)
    assert len(rings) == 1, "stopping without having typed changes nothing"
    set_typing(context, room_id=ROOM, user_id=ALICE, typing=False, timeout_ms=0)
    assert len(rings) == 2 and rings[1].position > rings[0].position
    assert _expiries(context) == {ALICE: STOPPED}


def test_the_next_write_records_earlier_timeouts(database: Database) -> None:
    clock = FakeClock(1_000_000)
    context, rings = _context(database, clock)
    set_typing(context, room_id=ROOM, user_id=ALICE, typing=True, timeout_ms=5_000)
    clock.advance(5_000)
    set_typing(context, room_id=ROOM, user_id=BOB, typing=True, timeout_ms=5_000)
    assert _expiries(context) == {ALICE: STOPPED, BOB: 1_010_000}
    assert len(rings) == 2, "alice's stop and bob's start share one position"


def test_the_sweep_pokes_rooms_with_timed_out_typers_and_expiry_is_idempotent(database: Database) -> None:
    clock, dispatcher = FakeClock(1_000_000), RecordingDispatcher()
    context, rings = _context(database, clock, dispatcher)
    set_typing(context, room_id=ROOM, user_id=ALICE, typing=True, timeout_ms=5_000)
    set_typing(context, room_id=ROOM, user_id=BOB, typing=True, timeout_ms=50_000)
    assert sweep_typing(context) == 0
    clock.advance(6_000)
    assert sweep_typing(context) == 1
    assert dispatcher.sent == [(EXPIRE_TYPING, {"room_id": ROOM, "before_ts": 1_006_000})]
    expire_typing(context, room_id=ROOM, before_ts=1_006_000)
    expire_typing(context, room_id=ROOM, before_ts=1_006_000)
    assert _expiries(context) == {ALICE: STOPPED, BOB: 1_050_000}
    assert len(rings) == 3, "two starts and one recorded timeout"
    assert sweep_typing(context) == 0, "nothing left to expire"
