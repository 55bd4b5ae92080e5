"""One message to a room whose members all long-poll: the woken syncs share the reads that do not depend on who
syncs (``web/sync/shared.py``), so the message is read once per process, every member still gets exactly it, a
shared snapshot never moves a client's token backwards, and the sender's own long-poll is woken first."""

from __future__ import annotations

import contextlib
import threading

from sqlalchemy import event

from persistence.doorbell import Ring
from protocol.events.model import Event
from protocol.room_versions import KNOWN_ROOM_VERSIONS
from protocol.sync_filters import DEFAULT_FILTER
from protocol.sync_tokens import parse_sync_token
from tasks.events import STREAM, ring_keys
from tests.homeserver import HomeserverUnderTest
from tests.web.long_poll import LongPoll
from tests.web.test_sync import SYNC, _bodies, _room, _send, _sync, settled_since
from web.sync.notifier import SyncNotifier
from web.sync.response import SyncRequest, build_sync
from web.sync.shared import SharedReads, Snapshot

MEMBERS = 5
ROOMS_WITH_EVENTS = "SELECT DISTINCT events.room_id FROM events WHERE"
"""The statement of ``list_rooms_with_events``: which rooms moved in the range, the same for every woken sync."""


def test_the_first_caller_computes_and_the_others_get_its_value() -> None:
    snapshot = Snapshot()
    started, release = threading.Event(), threading.Event()
    computed: list[int] = []
    answers: list[object] = []

    def compute() -> object:
        computed.append(1)
        started.set()
        release.wait(30)
        return object()

    first = threading.Thread(target=lambda: answers.append(snapshot.once("key", compute)))
    first.start()
    assert started.wait(30)
    others = [threading.Thread(target=lambda: answers.append(snapshot.once("key", compute))) for _ in range(4)]
    for thread in others:
        thread.start()
    release.set()
    for thread in [first, *others]:
        thread.join(30)
    assert len(computed) == 1 and len(answers) == 5 and len({id(answer) for answer in answers}) == 1


def test_a_failed_computation_is_not_shared() -> None:
    snapshot = Snapshot()

    def fail() -> int:
        raise RuntimeError("database went away")

    try:
        snapshot.once("key", fail)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the failure reaches its caller")
    assert snapshot.once("key", lambda: 7) == 7


def test_every_ring_starts_a_new_snapshot() -> None:
    shared = SharedReads()
    first = shared.snapshot()
    assert shared.snapshot() is first
    shared.on_ring(Ring("events", "master", 5, ("!room:test.local",)))
    assert shared.snapshot() is not first


def test_a_ring_wakes_the_senders_long_polls_first_and_each_waiter_once() -> None:
    notifier = SyncNotifier()
    room_id, sender = "!room:test.local", "@sender:test.local"
    others = [f"@member{index}:test.local" for index in range(10)]
    woken: list[str] = []
    message = Event.from_pdu({"type": "m.room.message", "room_id": room_id, "sender": sender, "content": {},
                              "depth": 3, "prev_events": [], "auth_events": [], "origin_server_ts": 0},
                             KNOWN_ROOM_VERSIONS["10"])
    with contextlib.ExitStack() as stack:
        for user_id in [*others, sender]:  # the sender registered last: set order would not put it first
            waiter = stack.enter_context(notifier.listening([user_id, room_id]))
            waiter.wake = lambda user_id=user_id: woken.append(user_id)  # type: ignore[method-assign]
        notifier.on_ring(Ring(STREAM, "master", 7, ring_keys(room_id, [message])))
    assert woken[0] == sender and sorted(woken) == sorted([sender, *others])


def test_woken_long_polls_read_the_message_once_and_each_get_it(homeserver: HomeserverUnderTest) -> None:
    tokens = [homeserver.register(f"member{index}")["access_token"] for index in range(MEMBERS)]
    room_id = _room(homeserver, tokens[0], preset="public_chat")
    for token in tokens[1:]:
        assert homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=token, json={}).status_code == 200
    since = [settled_since(homeserver, token) for token in tokens]
    since = [_sync(homeserver, token, position)["next_batch"] for token, position in zip(tokens, since, strict=True)]
    polls = [LongPoll(homeserver, token, f"{SYNC}?since={position}&timeout=20000")
             for token, position in zip(tokens, since, strict=True)]
    assert homeserver.eventually(lambda: homeserver.deps.notifier.count_waiting() == MEMBERS)
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(homeserver.deps.database.engine, "before_cursor_execute", record)
    try:
        _send(homeserver, tokens[0], room_id, "to everyone")
        answers = [poll.answer(timeout=30)["body"] for poll in polls]
    finally:
        event.remove(homeserver.deps.database.engine, "before_cursor_execute", record)
    for answer in answers:
        assert _bodies(answer["rooms"]["join"][room_id]) == ["to everyone"]
    assert len({answer["next_batch"] for answer in answers}) == 1, "one ring, one set of positions"
    shared_reads = [statement for statement in statements if " ".join(statement.split()).startswith(ROOMS_WITH_EVENTS)]
    # Once per ring; a second snapshot only if the woken syncs outlived one (MAX_AGE_S on a very busy machine).
    assert 1 <= len(shared_reads) < MEMBERS


def test_a_token_ahead_of_the_shared_positions_is_read_fresh(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    since = settled_since(homeserver, alice)
    whoami = homeserver.get("/_matrix/client/v3/account/whoami", token=alice).json
    stale = Snapshot()  # read before the message below, and never renewed: as if its ring had not arrived yet
    request = SyncRequest(whoami["user_id"], whoami["device_id"], parse_sync_token(since),
                          DEFAULT_FILTER, full_state=False)
    build_sync(homeserver.deps, request, stale)
    _send(homeserver, alice, room_id, "later")
    ahead = parse_sync_token(homeserver.eventually(
        lambda: (body := _sync(homeserver, alice, since)) and body["rooms"]["join"] and body["next_batch"]))
    result = build_sync(homeserver.deps, SyncRequest(request.user_id, request.device_id, ahead, request.filter,
                                                     full_state=False), stale)
    assert parse_sync_token(result.body["next_batch"]).covers(ahead), "a token never moves backwards"


def test_woken_long_polls_still_see_membership_changes_about_them(homeserver: HomeserverUnderTest) -> None:
    """The shared list of the range's membership events lets a woken sync skip its own membership read only when
    nothing in the range concerns it: an invite that wakes the invitee's long-poll is there, and the members'
    long-polls woken by the same invite see it in their timeline."""
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    carol = homeserver.register("carol")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    assert homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={}).status_code == 200
    polls = [LongPoll(homeserver, token, f"{SYNC}?since={settled_since(homeserver, token)}&timeout=20000")
             for token in (bob, carol)]
    assert homeserver.eventually(lambda: homeserver.deps.notifier.count_waiting() == 2)
    invited = homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/invite", token=alice,
                              json={"user_id": "@carol:test.local"})
    assert invited.status_code == 200, invited.json
    bob_sees, carol_sees = (poll.answer(timeout=30)["body"] for poll in polls)
    assert room_id in carol_sees["rooms"]["invite"], "the invitee's woken sync has the invite"
    timeline = bob_sees["rooms"]["join"][room_id]["timeline"]["events"]
    assert [(e["type"], e["state_key"], e["content"]["membership"]) for e in timeline] == [
        ("m.room.member", "@carol:test.local", "invite")]
