"""Woken long-polls rebuild in turns (``web/sync/turns.py``): first come, first served, a few at a time, and a
request that is not a woken sync never waits for a turn, so one message to a big room does not stall the others."""

from __future__ import annotations

import contextlib
import threading

from tests.homeserver import HomeserverUnderTest
from tests.web.long_poll import LongPoll
from tests.web.test_sync import SYNC, _bodies, _room, _send, _sync, settled_since
from web.sync.turns import AT_ONCE, WokenTurns

QUEUED = 5


def _eventually(probe: object, attempts: int = 3000) -> None:
    """Wait (bounded) until ``probe()`` holds: the threads below reach their queue place in their own time."""
    done = threading.Event()
    for _ in range(attempts):
        if probe():  # type: ignore[operator]
            return
        done.wait(0.01)
    raise AssertionError("the condition never held")


def test_woken_syncs_take_their_turns_in_the_order_they_queued() -> None:
    turns = WokenTurns(at_once=1)
    entered: list[int] = []
    threads = []
    with turns.turn():
        for index in range(QUEUED):
            thread = threading.Thread(target=lambda index=index: _enter(turns, entered, index))
            thread.start()
            threads.append(thread)
            _eventually(lambda index=index: turns.count_waiting() == index + 1)
        assert entered == [], "no one enters while the only place is held"
    for thread in threads:
        thread.join(30)
    assert entered == list(range(QUEUED))
    assert turns.count_waiting() == 0


def _enter(turns: WokenTurns, entered: list[int], index: int) -> None:
    with turns.turn():
        entered.append(index)


def test_at_most_the_places_are_held_and_a_freed_place_goes_to_the_first_in_line() -> None:
    turns = WokenTurns(at_once=2)
    inside, release = threading.Event(), threading.Event()
    entered: list[str] = []

    def hold(name: str) -> None:
        with turns.turn():
            entered.append(name)
            inside.set()
            release.wait(30)

    with turns.turn():
        first = threading.Thread(target=hold, args=("first",))
        first.start()
        assert inside.wait(30), "the second place is free"
        second = threading.Thread(target=_enter, args=(turns, entered, 2))
        second.start()
        _eventually(lambda: turns.count_waiting() == 1)
        assert entered == ["first"], "both places are held: the third waits"
    second.join(30)
    assert entered == ["first", 2], "the place freed went to the one waiting"
    release.set()
    first.join(30)
    with contextlib.ExitStack() as stack:  # every place came back
        for _ in range(2):
            stack.enter_context(turns.turn())
        assert turns.count_waiting() == 0


def test_other_requests_are_answered_while_a_woken_long_poll_waits_for_its_turn(
        homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={})
    since = _sync(homeserver, bob, settled_since(homeserver, bob))["next_batch"]
    turns = homeserver.deps.notifier.turns
    with contextlib.ExitStack() as busy:
        for _ in range(AT_ONCE):  # every place taken, as by woken syncs rebuilding
            busy.enter_context(turns.turn())
        poll = LongPoll(homeserver, bob, f"{SYNC}?since={since}&timeout=20000")
        assert homeserver.eventually(lambda: homeserver.deps.notifier.count_waiting() == 1)
        _send(homeserver, alice, room_id, "to the room")
        assert homeserver.eventually(lambda: turns.count_waiting() == 1), "woken, and waiting for its turn"
        # Meanwhile other requests, a sync that was not woken among them, are served without a turn.
        assert homeserver.get("/_matrix/client/versions").status_code == 200
        assert homeserver.get("/_matrix/client/v3/account/whoami", token=alice).status_code == 200
        assert _bodies(_sync(homeserver, alice, since)["rooms"]["join"][room_id]) == ["to the room"]
        assert poll.waiting
    answered = poll.answer(timeout=30)
    assert _bodies(answered["body"]["rooms"]["join"][room_id]) == ["to the room"]
    assert turns.count_waiting() == 0
