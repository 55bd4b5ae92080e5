"""Our users' typing, public read receipts and presence reach the other servers in their rooms as EDUs; remote
users' updates are not echoed back, and private receipts stay home."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from persistence.database import Database
from tasks.context import TaskContext
from tasks.events import create_event
from tasks.presence import set_presence
from tasks.receipts import put_receipt
from tasks.typing_notifications import set_typing
from tests.federation_remote import RemoteServer, running_remote_server
from tests.tasks.factories import RecordingDispatcher
from tests.tasks.federation_fixtures import ALICE, BOB, ROOM, federation_context, pump, say, shared_room


@pytest.fixture
def remote() -> Iterator[RemoteServer]:
    with running_remote_server() as server:
        yield server


@pytest.fixture
def dispatcher() -> RecordingDispatcher:
    return RecordingDispatcher()


@pytest.fixture
def context(database: Database, remote: RemoteServer, dispatcher: RecordingDispatcher) -> TaskContext:
    context = federation_context(database, {"remote.test": remote.base_url}, dispatcher=dispatcher)
    shared_room(context, BOB)
    pump(context, dispatcher)
    remote.received.clear()
    return context


def _edus(remote: RemoteServer, edu_type: str) -> list[dict[str, object]]:
    return [edu for item in remote.received for edu in item.edus(edu_type)]


def test_typing_of_our_users_goes_to_the_room_and_a_remote_users_does_not(
        context: TaskContext, remote: RemoteServer, dispatcher: RecordingDispatcher) -> None:
    set_typing(context, room_id=ROOM, user_id=ALICE, typing=True, timeout_ms=30_000)
    set_typing(context, room_id=ROOM, user_id=BOB, typing=True, timeout_ms=30_000)
    pump(context, dispatcher)
    set_typing(context, room_id=ROOM, user_id=ALICE, typing=False, timeout_ms=0)
    pump(context, dispatcher)
    assert _edus(remote, "m.typing") == [{"room_id": ROOM, "user_id": ALICE, "typing": True},
                                         {"room_id": ROOM, "user_id": ALICE, "typing": False}]


def test_a_public_read_receipt_goes_to_the_room_and_a_private_one_does_not(
        context: TaskContext, remote: RemoteServer, dispatcher: RecordingDispatcher) -> None:
    event_id = say(context, "read me")
    pump(context, dispatcher)
    put_receipt(context, room_id=ROOM, user_id=ALICE, receipt_type="m.read.private", event_id=event_id,
                thread_id=None)
    put_receipt(context, room_id=ROOM, user_id=ALICE, receipt_type="m.read", event_id=event_id, thread_id=None)
    pump(context, dispatcher)
    [receipt] = _edus(remote, "m.receipt")
    by_user = receipt[ROOM]["m.read"]  # type: ignore[index]
    assert by_user[ALICE]["event_ids"] == [event_id]
    assert set(by_user[ALICE]["data"]) == {"ts"}


def test_presence_goes_to_every_server_sharing_a_room(context: TaskContext, remote: RemoteServer,
                                                      dispatcher: RecordingDispatcher) -> None:
    set_presence(context, user_id=ALICE, presence="online", status_msg="around")
    pump(context, dispatcher)
    [edu] = _edus(remote, "m.presence")
    [push] = edu["push"]  # type: ignore[misc]
    assert (push["user_id"], push["presence"], push["status_msg"], push["currently_active"]) == (
        ALICE, "online", "around", True)


def test_a_newer_typing_update_replaces_one_still_waiting(context: TaskContext, remote: RemoteServer,
                                                         dispatcher: RecordingDispatcher) -> None:
    set_typing(context, room_id=ROOM, user_id=ALICE, typing=True, timeout_ms=30_000)
    set_typing(context, room_id=ROOM, user_id=ALICE, typing=False, timeout_ms=0)
    pump(context, dispatcher)  # both fan-outs ran before any sender: the queue held the latest only
    assert _edus(remote, "m.typing") == [{"room_id": ROOM, "user_id": ALICE, "typing": False}]


def test_a_remote_user_joining_gets_our_members_presence(context: TaskContext, remote: RemoteServer,
                                                          dispatcher: RecordingDispatcher) -> None:
    set_presence(context, user_id=ALICE, presence="online", status_msg=None)
    pump(context, dispatcher)
    remote.received.clear()
    create_event(context, room_id=ROOM, sender="@carol:remote.test", event_type="m.room.member",
                 state_key="@carol:remote.test", content={"membership": "join"})
    pump(context, dispatcher)
    [edu] = _edus(remote, "m.presence")
    assert [(push["user_id"], push["presence"]) for push in edu["push"]] == [(ALICE, "online")]  # type: ignore[attr-defined]


def test_our_user_joining_a_room_with_other_servers_shares_their_presence(
        context: TaskContext, remote: RemoteServer, dispatcher: RecordingDispatcher) -> None:
    dave = "@dave:test.local"
    set_presence(context, user_id=dave, presence="unavailable", status_msg="away")
    pump(context, dispatcher)
    create_event(context, room_id=ROOM, sender=dave, event_type="m.room.member", state_key=dave,
                 content={"membership": "join"})
    pump(context, dispatcher)
    pushes = [push for edu in _edus(remote, "m.presence") for push in edu["push"]]  # type: ignore[attr-defined]
    assert [(push["user_id"], push["presence"], push["status_msg"]) for push in pushes] == [
        (dave, "unavailable", "away")]
