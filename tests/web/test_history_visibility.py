"""History visibility over HTTP (Client-Server API, "Room History Visibility"): which events each reader may
fetch, by the room's setting and the reader's membership timeline, and the state a departed member reads."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.homeserver import HomeserverUnderTest

READERS = ("joiner", "invited_joiner", "leaver", "invitee", "stranger")
"""joiner: joins after the first messages; invited_joiner: invited, then joins; leaver: joins, then leaves;
invitee: invited, never joins; stranger: never has a membership."""

MESSAGES = ("before_anyone", "while_invited", "while_joined", "after_leaving")

ALL = set(READERS)
MEMBERS = {"joiner", "invited_joiner", "leaver"}
# setting -> message -> readers who may fetch it (the spec's rules 1-5 applied to the timeline below).
EXPECTED: dict[str, dict[str, set[str]]] = {
    "world_readable": {message: ALL for message in MESSAGES},
    "shared": {"before_anyone": MEMBERS, "while_invited": MEMBERS, "while_joined": MEMBERS,
               "after_leaving": {"joiner", "invited_joiner"}},
    "invited": {"before_anyone": set(), "while_invited": {"invited_joiner", "invitee"},
                "while_joined": MEMBERS | {"invitee"}, "after_leaving": {"joiner", "invited_joiner", "invitee"}},
    "joined": {"before_anyone": set(), "while_invited": set(), "while_joined": MEMBERS,
               "after_leaving": {"joiner", "invited_joiner"}},
}


class Room:
    def __init__(self, server: HomeserverUnderTest, owner: str, room_id: str) -> None:
        self.server, self.owner, self.room_id = server, owner, room_id
        self.base = f"/_matrix/client/v3/rooms/{room_id}"

    def say(self, body: str) -> str:
        response = self.server.put(f"{self.base}/send/m.room.message/{secrets.token_hex(4)}", token=self.owner,
                                   json={"body": body})
        assert response.status_code == 200, response.json
        return str(response.json["event_id"])

    def act(self, token: str, action: str, **body: Any) -> None:
        response = self.server.post(f"{self.base}/{action}", token=token, json=body)
        assert response.status_code == 200, response.json

    def set_state(self, event_type: str, content: dict[str, Any]) -> str:
        response = self.server.put(f"{self.base}/state/{event_type}", token=self.owner, json=content)
        assert response.status_code == 200, response.json
        return str(response.json["event_id"])


def _room(server: HomeserverUnderTest, owner: str) -> Room:
    response = server.post("/_matrix/client/v3/createRoom", token=owner, json={"preset": "public_chat"})
    assert response.status_code == 200, response.json
    return Room(server, owner, response.json["room_id"])


@pytest.mark.parametrize("setting", list(EXPECTED))
def test_who_may_fetch_each_event_by_setting_and_membership_timeline(homeserver: HomeserverUnderTest,
                                                                     setting: str) -> None:
    alice = homeserver.register("alice")["access_token"]
    tokens = {name: homeserver.register(name)["access_token"] for name in READERS}
    room = _room(homeserver, alice)
    room.set_state("m.room.history_visibility", {"history_visibility": setting})
    sent = {"before_anyone": room.say("before anyone")}
    for name in ("invited_joiner", "invitee"):
        room.act(alice, "invite", user_id=f"@{name}:test.local")
    sent["while_invited"] = room.say("while invited")
    for name in MEMBERS:
        room.act(tokens[name], "join")
    sent["while_joined"] = room.say("while joined")
    room.act(tokens["leaver"], "leave")
    sent["after_leaving"] = room.say("after leaving")

    seen = {(reader, message): homeserver.get(f"{room.base}/event/{event_id}", token=tokens[reader]).status_code
            for reader in READERS for message, event_id in sent.items()}
    expected = {(reader, message): 200 if reader in EXPECTED[setting][message] else 404
                for reader in READERS for message in MESSAGES}
    assert seen == expected


def test_own_membership_events_are_visible_whatever_the_setting(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room = _room(homeserver, alice)
    room.set_state("m.room.history_visibility", {"history_visibility": "joined"})
    room.act(alice, "invite", user_id="@bob:test.local")
    room.act(bob, "leave")  # rejects the invite
    state = homeserver.get(f"{room.base}/state", token=alice).json
    rejection = next(event for event in state if event["state_key"] == "@bob:test.local")
    fetched = homeserver.get(f"{room.base}/event/{rejection['event_id']}", token=bob)
    assert fetched.status_code == 200 and fetched.json["content"]["membership"] == "leave"


def test_a_departed_member_reads_the_state_as_of_their_leave(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    bob = homeserver.register("bob")["access_token"]
    room = _room(homeserver, alice)
    room.act(bob, "join")
    room.set_state("m.room.topic", {"topic": "before"})
    room.act(bob, "leave")
    room.set_state("m.room.topic", {"topic": "after"})
    room.set_state("m.room.name", {"name": "Renamed"})

    assert homeserver.get(f"{room.base}/state/m.room.topic", token=bob).json == {"topic": "before"}
    assert homeserver.get(f"{room.base}/state/m.room.name", token=bob).status_code == 404
    state = {(event["type"], event["state_key"]): event["content"]
             for event in homeserver.get(f"{room.base}/state", token=bob).json}
    assert state[("m.room.topic", "")] == {"topic": "before"}
    assert state[("m.room.member", "@bob:test.local")]["membership"] == "leave"
    assert ("m.room.name", "") not in state
    members = homeserver.get(f"{room.base}/members", token=bob).json["chunk"]
    assert {event["state_key"]: event["content"]["membership"] for event in members} == {
        "@alice:test.local": "join", "@bob:test.local": "leave"}
    # What needs current membership stays refused.
    assert homeserver.get(f"{room.base}/joined_members", token=bob).status_code == 403
    assert homeserver.get(f"{room.base}/state/m.room.topic", token=alice).json == {"topic": "after"}


def test_strangers_read_state_only_of_world_readable_rooms(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    eve = homeserver.register("eve")["access_token"]
    room = _room(homeserver, alice)
    room.set_state("m.room.topic", {"topic": "hello"})
    refused = homeserver.get(f"{room.base}/state", token=eve)
    assert (refused.status_code, refused.json["errcode"]) == (403, "M_FORBIDDEN")
    assert homeserver.get(f"{room.base}/state/m.room.topic", token=eve).status_code == 403
    room.set_state("m.room.history_visibility", {"history_visibility": "world_readable"})
    assert homeserver.get(f"{room.base}/state/m.room.topic", token=eve).json == {"topic": "hello"}
    assert homeserver.get(f"{room.base}/state", token=eve).status_code == 200
    unknown = homeserver.get("/_matrix/client/v3/rooms/!unknown:test.local/state", token=eve)
    assert unknown.status_code == 404
