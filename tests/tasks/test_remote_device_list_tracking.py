"""Remote users' device lists are tracked while they share a room with one of our users: a membership change in
a room with another server starts a resync of whoever came to share a room, and forgets whoever shares none."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from persistence.database import Database
from persistence.stores.remote_devices import RemoteDevice
from tasks import api
from tasks.context import TaskContext
from tasks.events import create_event
from tasks.remote_device_lists import TRACK_ROOM_MEMBERS, track_room_members
from tests.federation_remote import RemoteServer, running_remote_server
from tests.tasks.factories import RecordingDispatcher
from tests.tasks.federation_fixtures import ALICE, BOB, ROOM, federation_context, shared_room

CAROL = "@carol:remote.test"


@pytest.fixture
def remote() -> Iterator[RemoteServer]:
    with running_remote_server() as server:
        yield server


@pytest.fixture
def dispatcher() -> RecordingDispatcher:
    return RecordingDispatcher()


@pytest.fixture
def context(database: Database, remote: RemoteServer, dispatcher: RecordingDispatcher) -> TaskContext:
    return federation_context(database, {"remote.test": remote.base_url}, dispatcher=dispatcher)


def _member(context: TaskContext, user_id: str, membership: str) -> None:
    create_event(context, room_id=ROOM, sender=user_id, event_type="m.room.member", state_key=user_id,
                 content={"membership": membership})


def _track_pokes(dispatcher: RecordingDispatcher) -> list[dict[str, object]]:
    pokes = [kwargs for name, kwargs in dispatcher.sent if name == TRACK_ROOM_MEMBERS]
    dispatcher.sent.clear()
    return pokes


def _resyncs(dispatcher: RecordingDispatcher) -> list[object]:
    return [(kwargs["user_id"], kwargs["announce"]) for name, kwargs in dispatcher.sent
            if name == api.RESYNC_REMOTE_DEVICE_LIST]


def _hold(context: TaskContext, user_id: str) -> None:
    """As if ``user_id``'s list had been resynced."""
    with context.database.write() as conn:
        context.stores.remote_devices.upsert_stream_id(conn, user_id, 7, 0)
        context.stores.remote_devices.upsert_device(conn, RemoteDevice(user_id, "D", None, None))


def _tracked(context: TaskContext, *user_ids: str) -> set[str]:
    with context.database.read() as conn:
        return context.stores.remote_devices.list_tracked(conn, user_ids)


def test_a_remote_user_joining_our_room_is_resynced_and_forgotten_when_they_leave(
        context: TaskContext, dispatcher: RecordingDispatcher) -> None:
    shared_room(context)
    assert _track_pokes(dispatcher) == [], "a room only we are in tracks nothing"
    _member(context, BOB, "join")
    [poke] = _track_pokes(dispatcher)
    assert poke == {"room_id": ROOM, "joined": [BOB], "left": []}
    assert track_room_members(context, **poke) == 1  # type: ignore[arg-type]
    assert _resyncs(dispatcher) == [(BOB, True)], "local clients hear of the list once it is fetched"
    dispatcher.sent.clear()

    _hold(context, BOB)
    assert track_room_members(context, room_id=ROOM, joined=[BOB], left=[]) == 0, "held already: no resync"
    _member(context, BOB, "leave")
    [poke] = _track_pokes(dispatcher)
    assert track_room_members(context, **poke) == 1  # type: ignore[arg-type]
    assert _tracked(context, BOB) == set()
    with context.database.read() as conn:
        assert context.stores.remote_devices.list_devices(conn, [BOB]) == {}


def test_our_user_leaving_forgets_the_remote_members_sharing_no_other_room(
        context: TaskContext, dispatcher: RecordingDispatcher) -> None:
    shared_room(context, BOB, CAROL)
    dispatcher.sent.clear()
    for user_id in (BOB, CAROL):
        _hold(context, user_id)
    dave = "@dave:test.local"
    _member(context, dave, "join")
    [poke] = _track_pokes(dispatcher)
    assert track_room_members(context, **poke) == 0, "both were tracked already"

    _member(context, ALICE, "leave")
    [poke] = _track_pokes(dispatcher)
    assert track_room_members(context, **poke) == 0, "dave still shares the room with them"
    assert _tracked(context, BOB, CAROL) == {BOB, CAROL}
    _member(context, dave, "leave")
    [poke] = _track_pokes(dispatcher)
    assert track_room_members(context, **poke) == 2
    assert _tracked(context, BOB, CAROL) == set()
