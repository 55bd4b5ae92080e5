"""Push rules as HTTP conversations, in both shapes: the ruleset API, its errors, and m.push_rules in /sync."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.homeserver import HomeserverUnderTest
from tests.web.long_poll import LongPoll
from tests.web.test_sync import SYNC, _sync

RULES = "/_matrix/client/v3/pushrules/global"
ALICE = "@alice:test.local"


def _ids(ruleset: dict[str, Any], kind: str) -> list[str]:
    return [rule["rule_id"] for rule in ruleset[kind]]


def _push_rules_event(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [event for event in body["account_data"]["events"] if event["type"] == "m.push_rules"]


def test_a_new_user_reads_the_server_default_rules(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    everything = homeserver.get("/_matrix/client/v3/pushrules/", token=alice)
    assert everything.status_code == 200
    ruleset = everything.json["global"]
    assert homeserver.get(f"{RULES}/", token=alice).json == ruleset
    assert _ids(ruleset, "override")[:5] == [".m.rule.master", ".m.rule.suppress_notices", ".m.rule.invite_for_me",
                                             ".m.rule.member_event", ".m.rule.is_user_mention"]
    assert _ids(ruleset, "underride")[:3] == [".m.rule.call", ".m.rule.encrypted_room_one_to_one",
                                              ".m.rule.room_one_to_one"]
    assert ruleset["content"] == ruleset["room"] == ruleset["sender"] == []
    mention = homeserver.get(f"{RULES}/override/.m.rule.is_user_mention", token=alice).json
    assert mention["conditions"][0]["value"] == ALICE and mention["default"] is True
    assert homeserver.get(f"{RULES}/override/.m.rule.master/enabled", token=alice).json == {"enabled": False}
    assert homeserver.get(f"{RULES}/underride/.m.rule.message/actions", token=alice).json == {"actions": ["notify"]}


def test_user_rules_are_created_placed_changed_and_deleted(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    cake = {"pattern": "cake", "actions": ["notify", {"set_tweak": "sound", "value": "cakealarm.wav"}]}
    assert homeserver.put(f"{RULES}/content/cake", token=alice, json=cake).status_code == 200
    lie = {"pattern": "cake*lie", "actions": ["notify"]}
    assert homeserver.put(f"{RULES}/content/lie?before=cake", token=alice, json=lie).status_code == 200
    assert homeserver.put(f"{RULES}/content/last?after=cake", token=alice,
                          json={"pattern": "x", "actions": []}).status_code == 200
    assert homeserver.put(f"{RULES}/content/first", token=alice,
                          json={"pattern": "y", "actions": []}).status_code == 200
    assert _ids(homeserver.get(f"{RULES}/", token=alice).json, "content") == ["first", "lie", "cake", "last"]
    assert homeserver.get(f"{RULES}/content/lie", token=alice).json == {
        "rule_id": "lie", "default": False, "enabled": True, "pattern": "cake*lie", "actions": ["notify"]}
    assert homeserver.put(f"{RULES}/content/lie/enabled", token=alice, json={"enabled": False}).status_code == 200
    assert homeserver.put(f"{RULES}/content/lie", token=alice, json={**lie, "pattern": "pie"}).status_code == 200
    replaced = homeserver.get(f"{RULES}/content/lie", token=alice).json
    assert (replaced["pattern"], replaced["enabled"]) == ("pie", False), "an update keeps the flag and place"
    assert _ids(homeserver.get(f"{RULES}/", token=alice).json, "content") == ["first", "lie", "cake", "last"]
    assert homeserver.put(f"{RULES}/content/cake/actions", token=alice, json={"actions": []}).status_code == 200
    assert homeserver.get(f"{RULES}/content/cake/actions", token=alice).json == {"actions": []}
    assert homeserver.delete(f"{RULES}/content/cake", token=alice).status_code == 200
    gone = homeserver.get(f"{RULES}/content/cake", token=alice)
    assert (gone.status_code, gone.json["errcode"]) == (404, "M_NOT_FOUND")
    room_rule = homeserver.put(f"{RULES}/room/{quote('!dj234r78wl45Gh4D:test.local')}", token=alice,
                               json={"actions": []})
    assert room_rule.status_code == 200
    beer = {"conditions": [{"kind": "event_match", "key": "content.body", "pattern": "beer"},
                           {"kind": "room_member_count", "is": "<=10"}], "actions": ["notify"]}
    assert homeserver.put(f"{RULES}/override/beer", token=alice, json=beer).status_code == 200
    ruleset = homeserver.get(f"{RULES}/", token=alice).json
    assert _ids(ruleset, "override")[:2] == [".m.rule.master", "beer"], "master stays above user overrides"
    assert ruleset["override"][1]["conditions"] == beer["conditions"]
    assert ruleset["room"] == [{"rule_id": "!dj234r78wl45Gh4D:test.local", "default": False, "enabled": True,
                                "actions": []}]


def test_server_default_rules_can_be_disabled_and_given_actions_but_not_replaced(
        homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    assert homeserver.put(f"{RULES}/override/.m.rule.master/enabled", token=alice,
                          json={"enabled": True}).status_code == 200
    louder = ["notify", {"set_tweak": "highlight"}]
    assert homeserver.put(f"{RULES}/underride/.m.rule.message/actions", token=alice,
                          json={"actions": louder}).status_code == 200
    message = homeserver.get(f"{RULES}/underride/.m.rule.message", token=alice).json
    assert (message["actions"], message["default"]) == (louder, True)
    assert homeserver.get(f"{RULES}/override/.m.rule.master/enabled", token=alice).json == {"enabled": True}
    assert homeserver.get(f"{RULES}/override/.m.rule.master/enabled", token=bob).json == {"enabled": False}
    reserved = homeserver.put(f"{RULES}/underride/.m.rule.message", token=alice, json={"actions": []})
    assert (reserved.status_code, reserved.json["errcode"]) == (400, "M_INVALID_PARAM")
    undeletable = homeserver.delete(f"{RULES}/underride/.m.rule.message", token=alice)
    assert (undeletable.status_code, undeletable.json["errcode"]) == (404, "M_NOT_FOUND")


def test_bad_kinds_rule_ids_anchors_and_bodies_get_the_specs_errors(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    homeserver.put(f"{RULES}/content/cake", token=alice, json={"pattern": "cake", "actions": []})
    cases = [
        ("GET", f"{RULES}/bogus/cake", None, 400, "M_INVALID_PARAM"),
        ("PUT", f"{RULES}/bogus/cake", {"actions": []}, 400, "M_INVALID_PARAM"),
        ("GET", f"{RULES}/content/nothing", None, 404, "M_NOT_FOUND"),
        ("GET", f"{RULES}/override/cake", None, 404, "M_NOT_FOUND"),
        ("DELETE", f"{RULES}/content/nothing", None, 404, "M_NOT_FOUND"),
        ("PUT", f"{RULES}/content/nothing/enabled", {"enabled": True}, 404, "M_NOT_FOUND"),
        ("PUT", f"{RULES}/content/nothing/actions", {"actions": []}, 404, "M_NOT_FOUND"),
        ("PUT", f"{RULES}/content/.mine", {"pattern": "x", "actions": []}, 400, "M_INVALID_PARAM"),
        ("PUT", f"{RULES}/room/%23a%5Cb:test.local", {"actions": []}, 400, "M_INVALID_PARAM"),
        ("PUT", f"{RULES}/sender/not-a-user", {"actions": []}, 400, "M_INVALID_PARAM"),
        ("PUT", f"{RULES}/content/new?before=nothing", {"pattern": "x", "actions": []}, 400, "M_UNKNOWN"),
        ("PUT", f"{RULES}/content/new?after=.m.rule.master", {"pattern": "x", "actions": []}, 400, "M_UNKNOWN"),
        ("PUT", f"{RULES}/content/new", {"actions": []}, 400, "M_MISSING_PARAM"),
        ("PUT", f"{RULES}/content/new", {"pattern": "x"}, 400, "M_MISSING_PARAM"),
        ("PUT", f"{RULES}/content/new", {"pattern": "x", "actions": ["ring"]}, 400, "M_INVALID_PARAM"),
        ("PUT", f"{RULES}/override/new", {"actions": [], "conditions": [{"key": "type"}]}, 400, "M_BAD_JSON"),
        ("PUT", f"{RULES}/content/cake/enabled", {"enabled": "yes"}, 400, "M_BAD_JSON"),
        ("PUT", f"{RULES}/content/cake/actions", {}, 400, "M_MISSING_PARAM"),
    ]
    for method, path, body, status, errcode in cases:
        response = homeserver.request(method, path, token=alice, json=body)
        assert (response.status_code, response.json["errcode"]) == (status, errcode), (method, path, body)
    assert _ids(homeserver.get(f"{RULES}/", token=alice).json, "content") == ["cake"], "nothing else was stored"


def test_room_rules_take_any_rule_id_synapse_accepts(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    alias_named = quote("#spam:example.com")
    assert homeserver.put(f"{RULES}/room/{alias_named}", token=alice, json={"actions": []}).status_code == 200
    assert homeserver.put(f"{RULES}/room/plain?before={alias_named}", token=alice,
                          json={"actions": ["notify"]}).status_code == 200
    assert _ids(homeserver.get(f"{RULES}/", token=alice).json, "room") == ["plain", "#spam:example.com"]
    assert homeserver.get(f"{RULES}/room/{alias_named}/enabled", token=alice).json == {"enabled": True}


def test_one_kinds_rules_are_read_with_a_trailing_slash(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    homeserver.put(f"{RULES}/sender/{quote('@bob:test.local')}", token=alice, json={"actions": []})
    senders = homeserver.get(f"{RULES}/sender/", token=alice)
    assert senders.status_code == 200
    assert senders.json == [{"rule_id": "@bob:test.local", "default": False, "enabled": True, "actions": []}]
    underride = homeserver.get(f"{RULES}/underride/", token=alice).json
    assert underride == homeserver.get(f"{RULES}/", token=alice).json["underride"]
    assert homeserver.get("/_matrix/client/v3/pushrules/", token=alice).json["global"]["sender"] == senders.json


def test_malformed_push_rule_paths_get_400_naming_the_problem(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    top = "/_matrix/client/v3/pushrules"
    cases = [
        ("GET", top, 404, "M_UNRECOGNIZED"),  # the rulesets are at /pushrules/
        ("PUT", f"{top}/", 400, "M_UNRECOGNIZED"),
        ("GET", f"{top}/global", 400, "M_UNRECOGNIZED"),
        ("PUT", f"{top}/global", 400, "M_UNRECOGNIZED"),
        ("GET", f"{top}/not_a_scope/", 400, "M_INVALID_PARAM"),
        ("PUT", f"{top}/not_a_scope/room/{quote('#spam:example.com')}", 400, "M_INVALID_PARAM"),
        ("PUT", f"{top}/global/", 400, "M_UNRECOGNIZED"),
        ("GET", f"{top}/global/room", 400, "M_UNRECOGNIZED"),
        ("PUT", f"{top}/global/room", 400, "M_UNRECOGNIZED"),
        ("PUT", f"{top}/global/room/", 400, "M_UNRECOGNIZED"),
        ("PUT", f"{top}/global/bogus/", 400, "M_INVALID_PARAM"),
        ("GET", f"{top}/global/not_a_template/", 400, "M_INVALID_PARAM"),
        ("PUT", f"{top}/global/not_a_template/foo", 400, "M_INVALID_PARAM"),
        ("GET", f"{RULES}/override/.m.rule.master/not_an_attr", 400, "M_INVALID_PARAM"),
        ("PUT", f"{RULES}/override/.m.rule.master/not_an_attr", 400, "M_INVALID_PARAM"),
        ("GET", f"{RULES}/override/.m.rule.master/enabled/more", 400, "M_INVALID_PARAM"),
        ("DELETE", f"{RULES}/override/.m.rule.master/enabled", 405, "M_UNRECOGNIZED"),
        ("GET", f"{RULES}/override/a%00b/enabled", 404, "M_UNRECOGNIZED"),
    ]
    for method, path, status, errcode in cases:
        response = homeserver.request(method, path, token=alice, json={"enabled": True, "actions": []})
        assert (response.status_code, response.json["errcode"]) == (status, errcode), (method, path)
    unauthenticated = homeserver.get(f"{top}/global/room")
    assert (unauthenticated.status_code, unauthenticated.json["errcode"]) == (401, "M_MISSING_TOKEN")
    assert homeserver.get(f"{top}/", token=alice).json["global"]["room"] == [], "nothing was stored"


def test_guests_have_no_push_rules(make_homeserver: Any) -> None:
    server: HomeserverUnderTest = make_homeserver(allow_guest_access=True)
    guest = server.post("/_matrix/client/v3/register?kind=guest", json={}).json["access_token"]
    refused = server.get(f"{RULES}/", token=guest)
    assert (refused.status_code, refused.json["errcode"]) == (403, "M_GUEST_ACCESS_FORBIDDEN")


def test_sync_carries_the_push_rules_initially_and_after_each_change(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    first = _sync(homeserver, alice)
    [initial] = _push_rules_event(first)
    assert initial["content"]["global"] == homeserver.get(f"{RULES}/", token=alice).json
    assert _push_rules_event(_sync(homeserver, alice, first["next_batch"])) == []
    homeserver.put(f"{RULES}/sender/{quote('@spambot:test.local')}", token=alice, json={"actions": []})
    [changed] = _push_rules_event(_sync(homeserver, alice, first["next_batch"]))
    assert _ids(changed["content"]["global"], "sender") == ["@spambot:test.local"]
    hidden = _sync(homeserver, alice, filter={"account_data": {"not_types": ["m.push_rules"]}})
    assert _push_rules_event(hidden) == []


def test_a_waiting_sync_wakes_for_a_push_rule_change(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    since = _sync(homeserver, alice)["next_batch"]
    poll = LongPoll(homeserver, alice, f"{SYNC}?since={since}&timeout=20000")
    homeserver.put(f"{RULES}/override/.m.rule.master/enabled", token=alice, json={"enabled": True})
    answered = poll.answer()
    [event] = _push_rules_event(answered["body"])
    assert event["content"]["global"]["override"][0] == {
        "rule_id": ".m.rule.master", "default": True, "enabled": True, "conditions": [], "actions": []}
