"""Push actions: what the events writer records for each recipient as events are sent, in both shapes."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from sqlalchemy import select

from persistence.tables import event_push_actions
from tests.homeserver import HomeserverUnderTest
from tests.web.test_sync import _room

RULES = "/_matrix/client/v3/pushrules/global"
ALICE, BOB, CAROL = "@alice:test.local", "@bob:test.local", "@carol:test.local"


def _send(server: HomeserverUnderTest, token: str, room_id: str, content: dict[str, Any],
          event_type: str = "m.room.message") -> str:
    response = server.put(f"/_matrix/client/v3/rooms/{room_id}/send/{event_type}/t{time.monotonic_ns()}",
                          token=token, json=content)
    assert response.status_code == 200, response.json
    return str(response.json["event_id"])


def _actions(server: HomeserverUnderTest, event_id: str) -> dict[str, tuple[bool, bool, str]]:
    """user id -> (notify, highlight, thread id) of the rows stored for ``event_id``."""
    with server.deps.database.read() as conn:
        rows = conn.execute(select(event_push_actions).where(event_push_actions.c.event_id == event_id))
        return {row.user_id: (bool(row.notify), bool(row.highlight), row.thread_id) for row in rows}


def _trio(server: HomeserverUnderTest) -> tuple[dict[str, str], str]:
    tokens = {name: server.register(name)["access_token"] for name in ("alice", "bob", "carol")}
    room_id = _room(server, tokens["alice"], preset="public_chat")
    for name in ("bob", "carol"):
        assert server.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=tokens[name], json={}).status_code == 200
    return tokens, room_id


def test_a_message_notifies_every_member_but_its_sender(homeserver: HomeserverUnderTest) -> None:
    tokens, room_id = _trio(homeserver)
    event_id = _send(homeserver, tokens["alice"], room_id, {"msgtype": "m.text", "body": "hello"})
    assert _actions(homeserver, event_id) == {BOB: (True, False, "main"), CAROL: (True, False, "main")}
    joined = homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/leave", token=tokens["carol"], json={})
    assert joined.status_code == 200 and _actions(homeserver, _send(
        homeserver, tokens["alice"], room_id, {"msgtype": "m.text", "body": "after"})) == {
        BOB: (True, False, "main")}, "only joined members; the room is now one-to-one (sound, no highlight)"


def test_mentions_highlight_and_notices_and_edits_store_nothing(homeserver: HomeserverUnderTest) -> None:
    tokens, room_id = _trio(homeserver)
    mention = _send(homeserver, tokens["alice"], room_id,
                    {"msgtype": "m.text", "body": "bob?", "m.mentions": {"user_ids": [BOB]}})
    assert _actions(homeserver, mention) == {BOB: (True, True, "main"), CAROL: (True, False, "main")}
    everyone = _send(homeserver, tokens["alice"], room_id, {"msgtype": "m.text", "body": "all",
                                                           "m.mentions": {"room": True}})
    assert _actions(homeserver, everyone) == {BOB: (True, True, "main"), CAROL: (True, True, "main")}
    powerless = _send(homeserver, tokens["bob"], room_id, {"msgtype": "m.text", "body": "all",
                                                          "m.mentions": {"room": True}})
    assert _actions(homeserver, powerless) == {ALICE: (True, False, "main"), CAROL: (True, False, "main")}
    notice = _send(homeserver, tokens["alice"], room_id, {"msgtype": "m.notice", "body": "bot says"})
    edit = _send(homeserver, tokens["alice"], room_id, {
        "msgtype": "m.text", "body": "* hello", "m.new_content": {"msgtype": "m.text", "body": "hello"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": mention}})
    reaction = _send(homeserver, tokens["alice"], room_id,
                     {"m.relates_to": {"rel_type": "m.annotation", "event_id": mention, "key": "+1"}}, "m.reaction")
    assert _actions(homeserver, notice) == _actions(homeserver, edit) == _actions(homeserver, reaction) == {}


def test_thread_replies_and_what_relates_to_them_carry_the_thread_root(homeserver: HomeserverUnderTest) -> None:
    tokens, room_id = _trio(homeserver)
    root = _send(homeserver, tokens["alice"], room_id, {"msgtype": "m.text", "body": "root"})
    reply = _send(homeserver, tokens["alice"], room_id, {"msgtype": "m.text", "body": "in thread",
                                                        "m.relates_to": {"rel_type": "m.thread", "event_id": root}})
    assert _actions(homeserver, root)[BOB] == (True, False, "main"), "the root itself is in the main timeline"
    assert _actions(homeserver, reply)[BOB] == (True, False, root)
    reactions = {"conditions": [{"kind": "event_match", "key": "type", "pattern": "m.reaction"}],
                 "actions": ["notify"]}
    assert homeserver.put(f"{RULES}/override/reactions", token=tokens["bob"], json=reactions).status_code == 200
    reaction = _send(homeserver, tokens["alice"], room_id,
                     {"m.relates_to": {"rel_type": "m.annotation", "event_id": reply, "key": "+1"}}, "m.reaction")
    assert _actions(homeserver, reaction) == {BOB: (True, False, root)}


def test_an_invite_notifies_the_invitee(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    homeserver.register("bob")
    room_id = _room(homeserver, alice, preset="private_chat")
    invited = homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/invite", token=alice, json={"user_id": BOB})
    assert invited.status_code == 200
    with homeserver.deps.database.read() as conn:
        rows = conn.execute(select(event_push_actions.c.user_id, event_push_actions.c.actions)
                            .where(event_push_actions.c.room_id == room_id)).all()
    assert [(row.user_id, row.actions) for row in rows] == [
        (BOB, '["notify",{"set_tweak":"sound","value":"default"}]')]


def test_a_rule_change_applies_to_the_very_next_event(homeserver: HomeserverUnderTest) -> None:
    tokens, room_id = _trio(homeserver)
    before = _send(homeserver, tokens["alice"], room_id, {"msgtype": "m.text", "body": "one"})
    assert BOB in _actions(homeserver, before)
    muted = homeserver.put(f"{RULES}/room/{quote(room_id)}", token=tokens["bob"], json={"actions": []})
    cake = homeserver.put(f"{RULES}/content/cake", token=tokens["carol"],
                          json={"pattern": "cake", "actions": ["notify", {"set_tweak": "highlight"}]})
    assert muted.status_code == cake.status_code == 200
    after = _send(homeserver, tokens["alice"], room_id, {"msgtype": "m.text", "body": "Cake?"})
    assert _actions(homeserver, after) == {CAROL: (True, True, "main")}
    assert homeserver.put(f"{RULES}/room/{quote(room_id)}/enabled", token=tokens["bob"],
                          json={"enabled": False}).status_code == 200
    assert BOB in _actions(homeserver, _send(homeserver, tokens["alice"], room_id, {"msgtype": "m.text",
                                                                                    "body": "three"}))


def test_an_ignored_sender_notifies_nobody_who_ignores_them(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    carol = homeserver.register("carol")["access_token"]
    room_id = _room(homeserver, alice, preset="public_chat")
    for token in (bob, carol):
        homeserver.post(f"/_matrix/client/v3/rooms/{room_id}/join", token=token, json={})
    homeserver.put("/_matrix/client/v3/user/@bob:test.local/account_data/m.ignored_user_list", token=bob,
                   json={"ignored_users": {"@alice:test.local": {}}})
    event_id = _send(homeserver, alice, room_id, {"msgtype": "m.text", "body": "hello"})
    assert set(_actions(homeserver, event_id)) == {"@carol:test.local"}, "bob ignores alice; carol does not"
