"""What outbound federation costs the database, on both databases: an event's fan-out writes every destination's
rows with the same statements whatever their number, and a busy destination's sender uses one write transaction
per transaction it sends (bench/README.md, ``bench.federation``: this per-destination work was the cost)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from persistence.database import Database
from tasks.context import TaskContext
from tasks.envelope import Stamp
from tasks.events import create_event
from tasks.federation.fan_out import QUEUE_PDUS, SEND_TO_DESTINATION
from tasks.federation.sender import MAX_PDUS
from tasks.ledger import run_body
from tasks.registry import catalogue
from tests.clock import FakeClock
from tests.federation_remote import RemoteServer, running_remote_server
from tests.statements import recorded_statements
from tests.tasks.factories import RecordingDispatcher
from tests.tasks.federation_fixtures import ROOM, federation_context, pump, say, shared_room

SERVERS = ("r1.test", "r2.test", "r3.test", "r4.test")
LOCK = "INSERT INTO federation_destinations"
"""The first statement of every lock of destination rows: one per write transaction of the sender."""


@pytest.fixture
def remote() -> Iterator[RemoteServer]:
    with running_remote_server() as server:
        yield server


def _fan_out_statements(context: TaskContext, dispatcher: RecordingDispatcher) -> list[str]:
    """Run the fan-out of the event just sent (and none of the sends it pokes), recording its statements."""
    [(name, kwargs)] = [(name, kwargs) for name, kwargs in dispatcher.sent if name == QUEUE_PDUS]
    dispatcher.sent.clear()
    with recorded_statements(context.database) as statements:
        run_body(catalogue()[name], context, kwargs, Stamp.new())
    return statements


def test_a_fan_out_costs_the_same_statements_for_four_destinations_as_for_one(
        database: Database, remote: RemoteServer) -> None:
    dispatcher = RecordingDispatcher()
    context = federation_context(database, {server: remote.base_url for server in SERVERS}, FakeClock(), dispatcher)
    shared_room(context, f"@bob:{SERVERS[0]}")
    pump(context, dispatcher)
    say(context, "to one server")
    to_one = _fan_out_statements(context, dispatcher)
    for server in SERVERS[1:]:
        create_event(context, room_id=ROOM, sender=f"@bob:{server}", event_type="m.room.member",
                     state_key=f"@bob:{server}", content={"membership": "join"})
    pump(context, dispatcher)
    say(context, "to four servers")
    to_four = _fan_out_statements(context, dispatcher)
    assert [name for name, _ in dispatcher.sent].count(SEND_TO_DESTINATION) == len(SERVERS)
    assert len(to_four) == len(to_one)
    pump(context, dispatcher)
    assert {received.bodies[-1] for received in remote.received[-len(SERVERS):]} == {"to four servers"}


def test_a_sender_takes_each_next_transaction_as_it_records_the_last(database: Database,
                                                                    remote: RemoteServer) -> None:
    dispatcher = RecordingDispatcher()
    context = federation_context(database, {SERVERS[0]: remote.base_url}, FakeClock(), dispatcher)
    shared_room(context, f"@bob:{SERVERS[0]}")
    pump(context, dispatcher)
    remote.received.clear()
    tasks = catalogue()
    for number in range(MAX_PDUS + 1):  # two transactions' worth, queued before the sender runs
        say(context, f"message {number}")
        for name, kwargs in [sent for sent in dispatcher.sent if sent[0] == QUEUE_PDUS]:
            run_body(tasks[name], context, kwargs, Stamp.new())
        dispatcher.sent.clear()
    with recorded_statements(context.database) as statements:
        delivered = run_body(tasks[SEND_TO_DESTINATION], context, {"destination": SERVERS[0]}, Stamp.new())
    assert delivered == {"ok": 2}
    assert [len(received.bodies) for received in remote.received] == [MAX_PDUS, 1]
    # One claim, then one record per transaction that also claims the next: none finds the queue empty.
    assert sum(statement.startswith(LOCK) for statement in statements) == 1 + len(remote.received)
