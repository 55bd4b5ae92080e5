"""What ends a long-polling ``/sync`` (DESIGN.md guarantee 5): the doorbell ring for one of the user's rooms, even
while a burst of sends queues on the same web worker, and not the timeout catching news a lost ring left behind.
``ganglion_sync_long_poll_returns_total{cause}`` says which it was."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

from prometheus_client import REGISTRY

from tests.homeserver import HomeserverUnderTest
from tests.web.long_poll import LongPoll
from tests.web.test_sync import SYNC, _bodies, _room, _send, _sync, settled_since

CAUSES = ("at_once", "ring", "timeout")
BURST = 16
IN_FLIGHT = 8
WIDE = json.dumps({"room": {"timeline": {"limit": 50}}})


def _returns() -> dict[str, float]:
    return {cause: REGISTRY.get_sample_value("ganglion_sync_long_poll_returns_total", {"cause": cause}) or 0.0
            for cause in CAUSES}


def _since(before: dict[str, float]) -> dict[str, float]:
    after = _returns()
    return {cause: after[cause] - before[cause] for cause in CAUSES}


def test_a_long_poll_is_woken_by_the_ring_while_sends_queue_on_the_same_web_worker(
        homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=bob, json={})
    since = settled_since(homeserver, bob)
    before = _returns()
    # The timeout is well inside the answer's bound: a ring that went missing shows up as cause "timeout".
    poll = LongPoll(homeserver, bob, f"{SYNC}?since={since}&timeout=8000&filter={quote(WIDE)}")
    assert poll.waiting, "nothing new yet: the sync waits"
    assert homeserver.eventually(lambda: homeserver.deps.notifier.count_waiting() == 1)
    with ThreadPoolExecutor(IN_FLIGHT) as senders:
        sent = list(senders.map(lambda i: _send(homeserver, alice, room_id, f"burst {i}", txn=f"burst{i}"),
                                range(BURST)))
    answered = poll.answer(timeout=30)
    assert _bodies(answered["body"]["rooms"]["join"][room_id]), "the long-poll brought the burst's first events"
    assert _since(before) == {"at_once": 0, "ring": 1, "timeout": 0}
    # Everything sent is there for the next sync: a woken poll hands over a token that skips nothing.
    rest = _sync(homeserver, bob, answered["body"]["next_batch"], filter=WIDE)
    seen = _bodies(answered["body"]["rooms"]["join"][room_id]) + _bodies(rest["rooms"]["join"].get(room_id, {
        "timeline": {"events": []}}))
    assert sorted(seen) == sorted(f"burst {i}" for i in range(BURST)) and len(sent) == BURST


def test_an_empty_long_poll_is_counted_as_ended_by_its_timeout(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    _room(homeserver, alice)
    since = settled_since(homeserver, alice)
    before = _returns()
    assert _sync(homeserver, alice, since, timeout=200)["rooms"]["join"] == {}
    assert _sync(homeserver, alice, since)["rooms"]["join"] == {}  # no long-poll: not counted
    assert _since(before) == {"at_once": 0, "ring": 0, "timeout": 1}
