"""Presence as HTTP conversations, in both shapes: setting and reading it, syncs, timeouts, who hears of it."""

from __future__ import annotations

from typing import Any

from protocol.presence import UserPresence
from tasks.background import SWEEP_PRESENCE
from tests.homeserver import HomeserverUnderTest
from tests.web.long_poll import LongPoll
from tests.web.test_sync import SYNC, _room, _send, _sync

ALICE, BOB = "@alice:test.local", "@bob:test.local"
CLIENT = "/_matrix/client/v3"
# The worker shape's writer keeps its own (real) clock; the fake one is moved with a margin of a minute for it.
MARGIN_MS = 60_000


def _status(user_id: str) -> str:
    return f"{CLIENT}/presence/{user_id}/status"


def _seen(synced: dict[str, Any], user_id: str) -> list[dict[str, Any]]:
    """The ``m.presence`` contents a sync holds for ``user_id``."""
    return [event["content"] for event in synced["presence"]["events"]
            if event["type"] == "m.presence" and event["sender"] == user_id]


def _shared_room(server: HomeserverUnderTest) -> tuple[str, str, str]:
    alice = server.register("alice")["access_token"]
    bob = server.register("bob")["access_token"]
    room_id = _room(server, alice, preset="public_chat")
    assert server.post(f"{CLIENT}/rooms/{room_id}/join", token=bob, json={}).status_code == 200
    return alice, bob, room_id


def _recorded(server: HomeserverUnderTest, user_id: str) -> UserPresence:
    with server.deps.database.read() as conn:
        return server.deps.stores.presence.get_presence(conn, user_id)


def test_presence_is_set_by_its_user_and_read_by_those_sharing_a_room(homeserver: HomeserverUnderTest) -> None:
    alice, bob, _ = _shared_room(homeserver)
    carol = homeserver.register("carol")["access_token"]
    assert homeserver.get(_status(ALICE), token=bob).json == {"presence": "offline"}, "never set: offline"
    response = homeserver.put(_status(ALICE), token=alice, json={"presence": "unavailable", "status_msg": "lunch"})
    assert (response.status_code, response.json) == (200, {})
    for token in (alice, bob):
        assert homeserver.get(_status(ALICE), token=token).json == {"presence": "unavailable", "status_msg": "lunch"}
    homeserver.put(_status(ALICE), token=alice, json={"presence": "online"})
    online = homeserver.get(_status(ALICE), token=bob).json
    assert (online["presence"], online["currently_active"], "status_msg" in online) == ("online", True, False)
    assert online["last_active_ago"] >= 0
    refused = homeserver.get(_status(ALICE), token=carol)
    assert (refused.status_code, refused.json["errcode"]) == (403, "M_FORBIDDEN"), "carol shares no room"
    refused = homeserver.put(_status(ALICE), token=bob, json={"presence": "offline"})
    assert (refused.status_code, refused.json["errcode"]) == (403, "M_FORBIDDEN")
    for body, errcode in (({"presence": "busy"}, "M_INVALID_PARAM"), ({}, "M_MISSING_PARAM"),
                          ({"presence": "online", "status_msg": 5}, "M_BAD_JSON")):
        bad = homeserver.put(_status(ALICE), token=alice, json=body)
        assert (bad.status_code, bad.json["errcode"]) == (400, errcode), body
    bad = homeserver.get(_status("not-a-user"), token=alice)
    assert (bad.status_code, bad.json["errcode"]) == (400, "M_INVALID_PARAM")
    assert homeserver.get(_status(ALICE), token=bob).json["presence"] == "online", "nothing refused changed it"


def test_a_sync_marks_its_user_online_and_room_members_hear_of_it(homeserver: HomeserverUnderTest) -> None:
    alice, bob, _ = _shared_room(homeserver)
    since = _sync(homeserver, bob)["next_batch"]
    [own] = _seen(_sync(homeserver, alice), ALICE)
    assert (own["presence"], own["currently_active"]) == ("online", True), "the sync shows its own change"
    heard = _sync(homeserver, bob, since)
    [content] = _seen(heard, ALICE)
    assert content["presence"] == "online"
    assert _seen(_sync(homeserver, bob, heard["next_batch"]), ALICE) == [], "only changes come again"
    assert {event["sender"] for event in _sync(homeserver, bob)["presence"]["events"]} == {ALICE, BOB}, \
        "an initial sync: everyone online who shares a room, and oneself"
    carol = homeserver.register("carol")["access_token"]
    assert _seen(_sync(homeserver, carol), ALICE) == [], "carol shares no room with alice"


def test_a_new_shared_room_brings_the_presence_of_its_members(homeserver: HomeserverUnderTest) -> None:
    alice, _bob, room_id = _shared_room(homeserver)
    carol = homeserver.register("carol")["access_token"]
    alice_since = _sync(homeserver, alice)["next_batch"]
    carol_since = _sync(homeserver, carol)["next_batch"]
    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=carol, json={}).status_code == 200
    assert [content["presence"] for content in _seen(_sync(homeserver, carol, carol_since), ALICE)] == ["online"]
    assert [content["presence"] for content in _seen(_sync(homeserver, carol, carol_since), BOB)] == ["offline"], \
        "bob never synced, but carol has never been told: offline"
    assert [content["presence"] for content in _seen(_sync(homeserver, alice, alice_since),
                                                     "@carol:test.local")] == ["online"]


def test_newly_joined_members_presence_comes_once_even_when_offline(homeserver: HomeserverUnderTest) -> None:
    """As SyTest's 31sync "Get presence for newly joined members in incremental sync": every client syncs with
    ``set_presence=offline``, so nobody is online, and the joiner's presence still comes, once."""
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice)
    since = _sync(homeserver, alice, set_presence="offline")["next_batch"]
    bob_since = _sync(homeserver, bob, set_presence="offline")["next_batch"]
    homeserver.post(f"{CLIENT}/rooms/{room_id}/invite", token=alice, json={"user_id": BOB})
    assert homeserver.post(f"{CLIENT}/rooms/{room_id}/join", token=bob, json={}).status_code == 200
    after_join = _sync(homeserver, alice, since, set_presence="offline")
    assert [content["presence"] for content in _seen(after_join, BOB)] == ["offline"]
    again = _sync(homeserver, alice, after_join["next_batch"], set_presence="offline")
    assert _seen(again, BOB) == [], "only once"
    joined = _sync(homeserver, bob, bob_since, set_presence="offline")
    assert [content["presence"] for content in _seen(joined, ALICE)] == ["offline"], "and the joiner hears of alice"


def test_set_presence_on_sync(homeserver: HomeserverUnderTest) -> None:
    alice, _, _ = _shared_room(homeserver)
    _sync(homeserver, alice, set_presence="offline")
    assert homeserver.get(_status(ALICE), token=alice).json == {"presence": "offline"}, "offline: left alone"
    _sync(homeserver, alice, set_presence="unavailable")
    assert homeserver.get(_status(ALICE), token=alice).json["presence"] == "unavailable"
    _sync(homeserver, alice)
    assert homeserver.get(_status(ALICE), token=alice).json["presence"] == "online"
    homeserver.put(_status(ALICE), token=alice, json={"presence": "online", "status_msg": "here"})
    _sync(homeserver, alice, set_presence="unavailable")
    current = homeserver.get(_status(ALICE), token=alice).json
    assert (current["presence"], current["status_msg"]) == ("unavailable", "here"), "a sync keeps the message"


def test_syncs_are_written_only_when_something_changed_or_went_stale(homeserver: HomeserverUnderTest) -> None:
    alice, bob, _ = _shared_room(homeserver)
    _sync(homeserver, alice)
    first = _recorded(homeserver, ALICE)
    since = _sync(homeserver, bob)["next_batch"]
    for _ in range(3):
        _sync(homeserver, alice)
    assert _recorded(homeserver, ALICE) == first, "an online user syncing again is not written"
    homeserver.clock.advance(61_000 + MARGIN_MS)
    _sync(homeserver, alice)
    assert _recorded(homeserver, ALICE) != first, "more than a minute later, the activity is recorded"
    assert _seen(_sync(homeserver, bob, since), ALICE) == [], "which nobody needs to hear of"


def test_users_go_offline_once_their_syncs_stop(homeserver: HomeserverUnderTest) -> None:
    alice, bob, _ = _shared_room(homeserver)
    _sync(homeserver, alice)
    since = _sync(homeserver, bob)["next_batch"]
    homeserver.clock.advance(20_000)
    homeserver.run_beat_job(SWEEP_PRESENCE)
    assert homeserver.get(_status(ALICE), token=bob).json["presence"] == "online", "20 s is not long enough"
    homeserver.clock.advance(90_000 + MARGIN_MS)
    assert homeserver.run_beat_job(SWEEP_PRESENCE) == 2, "alice and bob"
    homeserver.eventually(lambda: {_recorded(homeserver, user).state for user in (ALICE, BOB)} == {"offline"})
    assert homeserver.run_beat_job(SWEEP_PRESENCE) == 0, "offline has no timeouts"
    heard = _sync(homeserver, bob, since, set_presence="offline")
    assert [content["presence"] for content in _seen(heard, ALICE)] == ["offline"]


def test_idle_users_become_unavailable_before_they_go_offline(make_homeserver: Any) -> None:
    server: HomeserverUnderTest = make_homeserver(presence={"idle_timeout": "90s"})
    alice, bob, room_id = _shared_room(server)
    since = _sync(server, alice)["next_batch"]
    _send(server, bob, room_id, "wake up")
    # A long-poll held open for up to two minutes: alice counts as syncing until then (it answers at once here).
    _sync(server, alice, since, timeout=120_000)
    server.clock.advance(90_000 + MARGIN_MS)
    server.run_beat_job(SWEEP_PRESENCE)
    server.eventually(lambda: server.get(_status(ALICE), token=bob).json["presence"] == "unavailable")
    server.clock.advance(120_000)
    server.run_beat_job(SWEEP_PRESENCE)
    server.eventually(lambda: server.get(_status(ALICE), token=bob).json["presence"] == "offline")


def test_the_presence_filter_chooses_whose_presence_is_sent(homeserver: HomeserverUnderTest) -> None:
    alice, bob, _ = _shared_room(homeserver)
    _sync(homeserver, alice)
    _sync(homeserver, bob)
    assert _seen(_sync(homeserver, bob, filter={"presence": {"not_senders": [ALICE]}}), ALICE) == []
    assert _sync(homeserver, bob, filter={"presence": {"types": ["m.nothing"]}})["presence"]["events"] == []
    assert len(_sync(homeserver, bob, filter={"presence": {"limit": 1}})["presence"]["events"]) == 1


def test_presence_can_be_disabled(make_homeserver: Any) -> None:
    server: HomeserverUnderTest = make_homeserver(presence={"enabled": False})
    alice, bob, _ = _shared_room(server)
    assert server.put(_status(ALICE), token=alice, json={"presence": "online", "status_msg": "x"}).status_code == 200
    assert server.get(_status(ALICE), token=bob).json == {"presence": "offline"}
    assert _sync(server, alice)["presence"]["events"] == []
    assert _recorded(server, ALICE) == UserPresence(ALICE), "nothing was written"
    assert server.run_beat_job(SWEEP_PRESENCE) == 0


def test_setting_presence_is_rate_limited(make_homeserver: Any) -> None:
    server: HomeserverUnderTest = make_homeserver(rc_presence={"per_user": {"per_second": 0.1, "burst_count": 1}})
    alice = server.register("alice")["access_token"]
    assert server.put(_status(ALICE), token=alice, json={"presence": "online"}).status_code == 200
    limited = server.put(_status(ALICE), token=alice, json={"presence": "unavailable"})
    assert (limited.status_code, limited.json["errcode"]) == (429, "M_LIMIT_EXCEEDED")
    assert server.get(_status(ALICE), token=alice).json["presence"] == "online"


def test_a_waiting_sync_wakes_for_presence(homeserver: HomeserverUnderTest) -> None:
    alice, bob, _ = _shared_room(homeserver)
    since = _sync(homeserver, bob)["next_batch"]
    poll = LongPoll(homeserver, bob, f"{SYNC}?since={since}&timeout=20000")
    assert poll.waiting, "nothing new yet: the sync waits"
    homeserver.put(_status(ALICE), token=alice, json={"presence": "online", "status_msg": "back"})
    answered = poll.answer()
    assert [content.get("status_msg") for content in _seen(answered["body"], ALICE)] == ["back"]
    assert answered["seconds"] < 10, "woken by the doorbell, not by the timeout"
