"""A local room shared with a remote server, a task context that can talk to it, and a pump that runs the
federation tasks the context pokes, in order, as the federation queues would."""

from __future__ import annotations

from typing import Any

from config import parse_config
from federation_client.services import build_federation
from persistence.database import Database
from persistence.doorbell import LocalDoorbell
from persistence.stores import Stores
from protocol.room_creation import RoomRequest, create_content, initial_events
from protocol.room_versions import KNOWN_ROOM_VERSIONS
from protocol.signing import generate_signing_key
from tasks.context import TaskContext
from tasks.envelope import Stamp
from tasks.events import create_event, create_room
from tasks.ledger import run_body
from tasks.registry import catalogue
from tests.clock import FakeClock
from tests.tasks.factories import RecordingDispatcher

ALICE = "@alice:test.local"
BOB = "@bob:remote.test"
ROOM = "!fed:test.local"
FEDERATION_FAMILIES = ("federation",)


def federation_context(database: Database, test_hosts: dict[str, str], clock: FakeClock | None = None,
                       dispatcher: RecordingDispatcher | None = None, **config: Any) -> TaskContext:
    """Our server ``test.local``, whose federation reaches each name of ``test_hosts`` at its URL (loopback is
    allowed unless ``config`` says otherwise)."""
    data = {"server_name": "test.local", "federation_test_hosts": test_hosts, "ip_range_whitelist": ["127.0.0.0/8"],
            "federation": {"client_timeout": "2s", "destination_min_retry_interval": "1s"}, **config}
    parsed = parse_config(data)
    key = generate_signing_key("test")
    clock = clock or FakeClock()
    stores = Stores()
    client = build_federation(parsed, key, database, stores, clock).client
    return TaskContext(parsed, database, stores, LocalDoorbell(), clock, dispatcher or RecordingDispatcher(), key,
                       federation_client=client)


def shared_room(context: TaskContext, *remote_users: str) -> None:
    """A public room of Alice's that ``remote_users`` joined (their joins stored as if their servers sent them)."""
    version = KNOWN_ROOM_VERSIONS["10"]
    request = RoomRequest("public_chat")
    templates = initial_events(request, ALICE, version, {})
    create_room(context, room_id=ROOM, room_version="10", creator=ALICE,
                create_content=create_content(request, ALICE, version), origin_server_ts=0,
                initial_events=[{"type": t.type, "content": dict(t.content), "state_key": t.state_key}
                                for t in templates])
    for user_id in remote_users:
        create_event(context, room_id=ROOM, sender=user_id, event_type="m.room.member", state_key=user_id,
                     content={"membership": "join"})


def say(context: TaskContext, body: str) -> str:
    event_id: str = create_event(context, room_id=ROOM, sender=ALICE, event_type="m.room.message",
                                 content={"msgtype": "m.text", "body": body})["event_id"]
    return event_id


def pump(context: TaskContext, dispatcher: RecordingDispatcher, limit: int = 1000) -> list[tuple[str, Any]]:
    """Run the federation tasks poked so far, and those they poke, each once through the ledger; answers what
    each returned. Pokes of other families are dropped."""
    tasks = catalogue()
    results = []
    for _ in range(limit):
        pending = [(name, kwargs) for name, kwargs in dispatcher.sent if tasks[name].family in FEDERATION_FAMILIES]
        dispatcher.sent.clear()
        if not pending:
            return results
        for name, kwargs in pending:
            results.append((name, run_body(tasks[name], context, kwargs, Stamp.new())))
    raise AssertionError("the federation tasks keep poking each other")
