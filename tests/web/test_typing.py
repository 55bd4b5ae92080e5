"""Typing notifications as HTTP conversations, in both shapes: who sees whom typing, and when it stops."""

from __future__ import annotations

from typing import Any

from tasks.background import SWEEP_TYPING
from tests.homeserver import HomeserverUnderTest
from tests.web.long_poll import LongPoll
from tests.web.test_sync import SYNC, _room, _sync

ALICE, BOB = "@alice:test.local", "@bob:test.local"
# The worker shape's writer keeps its own (real) clock, so the tests move the fake one well past any timeout.
WELL_PAST_MS = 60_000


def _typing(server: HomeserverUnderTest, token: str, room_id: str, user_id: str, **body: Any) -> Any:
    return server.put(f"/_matrix/client/v3/rooms/{room_id}/typing/{user_id}", token=token, json=body)


def _typers(synced: dict[str, Any], room_id: str) -> list[list[str]]:
    """The ``m.typing`` user lists a sync holds for the room, oldest first (none when the room is absent)."""
    room = synced["rooms"]["join"].get(room_id)
    if room is None:
        return []
    return [event["content"]["user_ids"] for event in room["ephemeral"]["events"] if event["type"] == "m.typing"]


def _shared_room(server: HomeserverUnderTest) -> tuple[str, str, str]:
    alice = server.register("alice")["access_token"]
    bob = server.register("bob")["access_token"]
    room_id = _room(server, alice, preset="public_chat")
    assert server.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={}).status_code == 200
    return alice, bob, room_id


def test_members_see_who_is_typing_until_they_stop(homeserver: HomeserverUnderTest) -> None:
    alice, bob, room_id = _shared_room(homeserver)
    since = _sync(homeserver, bob)["next_batch"]
    assert _typing(homeserver, alice, room_id, ALICE, typing=True, timeout=30000).status_code == 200
    started = _sync(homeserver, bob, since)
    assert _typers(started, room_id) == [[ALICE]]
    assert started["rooms"]["join"][room_id]["timeline"]["events"] == [], "only the typing changed in the room"
    assert _typers(_sync(homeserver, bob), room_id) == [[ALICE]], "an initial sync shows who types now"
    assert _typing(homeserver, alice, room_id, ALICE, typing=False).status_code == 200
    stopped = _sync(homeserver, bob, started["next_batch"])
    assert _typers(stopped, room_id) == [[]], "an empty list tells clients everyone stopped"
    assert room_id not in _sync(homeserver, bob, stopped["next_batch"])["rooms"]["join"]


def test_an_initial_sync_after_typing_stopped_says_nobody_types(homeserver: HomeserverUnderTest) -> None:
    alice, bob, room_id = _shared_room(homeserver)
    assert _typers(_sync(homeserver, bob), room_id) == [], "nobody ever typed: no m.typing at all"
    _typing(homeserver, alice, room_id, ALICE, typing=True, timeout=30000)
    assert _typing(homeserver, alice, room_id, ALICE, typing=False).status_code == 200
    for user in (alice, bob):
        assert _typers(_sync(homeserver, user), room_id) == [[]], "an empty list: whoever typed has stopped"


def test_typing_again_only_extends_the_timeout(homeserver: HomeserverUnderTest) -> None:
    alice, bob, room_id = _shared_room(homeserver)
    _typing(homeserver, alice, room_id, ALICE, typing=True, timeout=30000)
    since = _sync(homeserver, bob)["next_batch"]
    assert _typing(homeserver, alice, room_id, ALICE, typing=True, timeout=30000).status_code == 200
    assert room_id not in _sync(homeserver, bob, since)["rooms"]["join"], "clients already know alice types"
    _typing(homeserver, bob, room_id, BOB, typing=True)
    assert _typers(_sync(homeserver, alice, since), room_id) == [[ALICE, BOB]]


def test_typing_stops_by_itself_when_its_timeout_passes(homeserver: HomeserverUnderTest) -> None:
    alice, bob, room_id = _shared_room(homeserver)
    _typing(homeserver, alice, room_id, ALICE, typing=True, timeout=10000)
    since = _sync(homeserver, bob)["next_batch"]
    homeserver.clock.advance(10000 + WELL_PAST_MS)
    assert _typers(_sync(homeserver, bob), room_id) == [[]], "an expired typer counts as stopped at once"
    homeserver.run_beat_job(SWEEP_TYPING)
    stopped = homeserver.eventually(lambda: _typers(_sync(homeserver, bob, since), room_id))
    assert stopped == [[]]
    assert homeserver.run_beat_job(SWEEP_TYPING) == 0, "the stop is recorded once"


def test_a_timed_out_typer_is_left_out_when_the_room_changes_again(homeserver: HomeserverUnderTest) -> None:
    alice, bob, room_id = _shared_room(homeserver)
    _typing(homeserver, alice, room_id, ALICE, typing=True, timeout=5000)
    since = _sync(homeserver, alice)["next_batch"]
    homeserver.clock.advance(5000 + WELL_PAST_MS)
    _typing(homeserver, bob, room_id, BOB, typing=True, timeout=WELL_PAST_MS * 3)
    assert _typers(_sync(homeserver, alice, since), room_id) == [[BOB]]


def test_typing_is_only_for_oneself_in_a_joined_room(homeserver: HomeserverUnderTest) -> None:
    alice, bob, room_id = _shared_room(homeserver)
    carol = homeserver.register("carol")["access_token"]
    cases = [(bob, room_id, ALICE), (carol, room_id, "@carol:test.local"),
             (alice, "!unknown:test.local", ALICE)]
    for token, room, user in cases:
        refused = _typing(homeserver, token, room, user, typing=True)
        assert (refused.status_code, refused.json["errcode"]) == (403, "M_FORBIDDEN"), (room, user)
    for body, errcode in (({}, "M_MISSING_PARAM"), ({"typing": "yes"}, "M_BAD_JSON"),
                          ({"typing": True, "timeout": -5}, "M_INVALID_PARAM")):
        bad = _typing(homeserver, alice, room_id, ALICE, **body)
        assert (bad.status_code, bad.json["errcode"]) == (400, errcode), body
    assert _typers(_sync(homeserver, bob), room_id) == [], "nothing refused was recorded"


def test_the_ephemeral_filter_can_leave_typing_out(homeserver: HomeserverUnderTest) -> None:
    alice, bob, room_id = _shared_room(homeserver)
    _typing(homeserver, alice, room_id, ALICE, typing=True)
    assert _typers(_sync(homeserver, bob, filter={"room": {"ephemeral": {"not_types": ["m.typing"]}}}),
                   room_id) == []
    assert _typers(_sync(homeserver, bob, filter={"room": {"ephemeral": {"types": ["m.*"]}}}), room_id) == [[ALICE]]


def test_a_waiting_sync_wakes_for_typing(homeserver: HomeserverUnderTest) -> None:
    alice, bob, room_id = _shared_room(homeserver)
    since = _sync(homeserver, bob)["next_batch"]
    poll = LongPoll(homeserver, bob, f"{SYNC}?since={since}&timeout=20000")
    assert poll.waiting, "nothing new yet: the sync waits"
    _typing(homeserver, alice, room_id, ALICE, typing=True)
    answered = poll.answer()
    assert _typers(answered["body"], room_id) == [[ALICE]]
    assert answered["seconds"] < 10, "woken by the doorbell, not by the timeout"


def test_leaving_the_room_stops_typing_at_once(homeserver: HomeserverUnderTest) -> None:
    alice, bob, room_id = _shared_room(homeserver)
    assert _typing(homeserver, bob, room_id, BOB, typing=True, timeout=30000).status_code == 200
    since = _sync(homeserver, alice)["next_batch"]
    assert homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/kick", token=alice,
                           json={"user_id": BOB}).status_code == 200
    homeserver.eventually(lambda: [] in _typers(_sync(homeserver, alice, since), room_id))
    assert _typers(_sync(homeserver, alice), room_id) == [[]], "bob no longer types there, timeout or not"
