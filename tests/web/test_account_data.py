"""Account data and room tags, written by the account_data stream writer and seen through /sync."""

from __future__ import annotations

from tests.homeserver import HomeserverUnderTest
from tests.web.long_poll import LongPoll
from tests.web.test_sync import SYNC, _room, _sync, settled_since

ALICE = "@alice:test.local"


def _path(user: str, rest: str) -> str:
    return f"/_matrix/client/v3/user/{user}/{rest}"


def test_global_account_data_round_trips_and_is_private(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    path = _path(ALICE, "account_data/org.example.settings")
    missing = homeserver.get(path, token=alice)
    assert (missing.status_code, missing.json["errcode"]) == (404, "M_NOT_FOUND")
    assert homeserver.put(path, token=alice, json={"theme": "dark"}).status_code == 200
    assert homeserver.put(path, token=alice, json={"theme": "light"}).status_code == 200
    assert homeserver.get(path, token=alice).json == {"theme": "light"}
    for method in ("GET", "PUT"):
        refused = homeserver.request(method, path, token=bob, json={"theme": "evil"})
        assert (refused.status_code, refused.json["errcode"]) == (403, "M_FORBIDDEN")
    assert homeserver.get(path, token=alice).json == {"theme": "light"}


def test_server_managed_types_cannot_be_set(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    for path in (_path(ALICE, "account_data/m.push_rules"), _path(ALICE, "account_data/m.fully_read"),
                 _path(ALICE, f"rooms/{room_id}/account_data/m.fully_read")):
        refused = homeserver.put(path, token=alice, json={"event_id": "$x"})
        assert (refused.status_code, refused.json["errcode"]) == (405, "M_BAD_JSON"), path


def test_room_account_data_is_per_room(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    first, second = _room(homeserver, alice), _room(homeserver, alice)
    homeserver.put(_path(ALICE, f"rooms/{first}/account_data/org.example.draft"), token=alice, json={"text": "a"})
    assert homeserver.get(_path(ALICE, f"rooms/{first}/account_data/org.example.draft"),
                          token=alice).json == {"text": "a"}
    assert homeserver.get(_path(ALICE, f"rooms/{second}/account_data/org.example.draft"),
                          token=alice).status_code == 404
    assert homeserver.get(_path(ALICE, "account_data/org.example.draft"), token=alice).status_code == 404
    bad = homeserver.put(_path(ALICE, "rooms/not-a-room/account_data/org.example.draft"), token=alice, json={})
    assert (bad.status_code, bad.json["errcode"]) == (400, "M_INVALID_PARAM")


def test_tags_are_added_replaced_and_removed(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    tags = _path(ALICE, f"rooms/{room_id}/tags")
    assert homeserver.get(tags, token=alice).json == {"tags": {}}
    assert homeserver.put(f"{tags}/m.favourite", token=alice, json={"order": 0.25}).status_code == 200
    assert homeserver.put(f"{tags}/u.work", token=alice, json={}).status_code == 200
    assert homeserver.put(f"{tags}/m.favourite", token=alice, json={"order": 0.5}).status_code == 200
    assert homeserver.get(tags, token=alice).json == {"tags": {"m.favourite": {"order": 0.5}, "u.work": {}}}
    assert homeserver.delete(f"{tags}/u.work", token=alice).status_code == 200
    assert homeserver.delete(f"{tags}/u.never", token=alice).status_code == 200
    assert homeserver.get(tags, token=alice).json == {"tags": {"m.favourite": {"order": 0.5}}}
    bad = homeserver.put(f"{tags}/m.lowpriority", token=alice, json={"order": "first"})
    assert (bad.status_code, bad.json["errcode"]) == (400, "M_BAD_JSON")
    synced = _sync(homeserver, alice)["rooms"]["join"][room_id]["account_data"]["events"]
    assert {"type": "m.tag", "content": {"tags": {"m.favourite": {"order": 0.5}}}} in synced


def test_sync_sends_account_data_once_then_only_changes(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id = _room(homeserver, alice)
    homeserver.put(_path(ALICE, "account_data/org.example.a"), token=alice, json={"n": 1})
    homeserver.put(_path(ALICE, "account_data/org.example.b"), token=alice, json={"n": 1})
    first = _sync(homeserver, alice)
    assert {event["type"] for event in first["account_data"]["events"]} == {
        "org.example.a", "org.example.b", "m.push_rules"}, "an initial sync also carries the push rules"
    assert _sync(homeserver, alice, first["next_batch"])["account_data"]["events"] == []
    homeserver.put(_path(ALICE, "account_data/org.example.b"), token=alice, json={"n": 2})
    homeserver.put(_path(ALICE, f"rooms/{room_id}/account_data/org.example.c"), token=alice, json={"n": 3})
    later = _sync(homeserver, alice, first["next_batch"])
    assert later["account_data"]["events"] == [{"type": "org.example.b", "content": {"n": 2}}]
    room = later["rooms"]["join"][room_id]
    assert room["account_data"]["events"] == [{"type": "org.example.c", "content": {"n": 3}}]
    assert room["timeline"]["events"] == [], "only account data changed in the room"
    filtered = _sync(homeserver, alice, filter={"account_data": {"not_types": ["org.example.a", "m.push_rules"]}})
    assert {event["type"] for event in filtered["account_data"]["events"]} == {"org.example.b"}


def test_a_waiting_sync_wakes_for_account_data(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    since = settled_since(homeserver, alice)
    poll = LongPoll(homeserver, alice, f"{SYNC}?since={since}&timeout=20000")
    homeserver.put(_path(ALICE, "account_data/m.direct"), token=alice, json={"@bob:test.local": ["!r:x"]})
    answered = poll.answer()
    assert answered["body"]["account_data"]["events"] == [
        {"type": "m.direct", "content": {"@bob:test.local": ["!r:x"]}}]


def test_server_managed_push_rules_are_readable_as_account_data(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    content = homeserver.get(_path(ALICE, "account_data/m.push_rules"), token=alice).json
    assert content == homeserver.get("/_matrix/client/v3/pushrules/", token=alice).json
    assert any(rule["rule_id"] == ".m.rule.master" for rule in content["global"]["override"])
    without_slash = homeserver.get("/_matrix/client/v3/pushrules", token=alice)
    assert (without_slash.status_code, without_slash.json["errcode"]) == (404, "M_UNRECOGNIZED"), \
        "only /pushrules/ names the rulesets (Synapse's answer; SyTest 61push checks it)"
