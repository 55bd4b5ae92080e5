"""Relationships: /relations and /threads over edits, reactions, replies and threads, in both shapes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.homeserver import HomeserverUnderTest

V1 = "/_matrix/client/v1"
V3 = "/_matrix/client/v3"


class Conversation:
    """Alice's public room that Bob has joined; sends events and reads relations as HTTP."""

    def __init__(self, server: HomeserverUnderTest) -> None:
        self.server = server
        self.alice = server.register("alice")["access_token"]
        self.bob = server.register("bob")["access_token"]
        created = server.post(f"{V3}/createRoom", token=self.alice, json={"preset": "public_chat"})
        self.room_id = created.json["room_id"]
        assert server.post(f"{V3}/rooms/{self.room_id}/join", token=self.bob, json={}).status_code == 200
        self._txn = 0

    def send(self, token: str, content: dict[str, Any], event_type: str = "m.room.message") -> str:
        self._txn += 1
        response = self.server.put(f"{V3}/rooms/{self.room_id}/send/{event_type}/txn{self._txn}", token=token,
                                   json=content)
        assert response.status_code == 200, response.json
        return str(response.json["event_id"])

    def text(self, token: str, body: str, relates_to: dict[str, Any] | None = None) -> str:
        content: dict[str, Any] = {"msgtype": "m.text", "body": body}
        if relates_to:
            content["m.relates_to"] = relates_to
        return self.send(token, content)

    def react(self, token: str, parent: str, key: str) -> str:
        return self.send(token, {"m.relates_to": {"rel_type": "m.annotation", "event_id": parent, "key": key}},
                         "m.reaction")

    def edit(self, token: str, parent: str, body: str) -> str:
        return self.send(token, {"msgtype": "m.text", "body": f"* {body}",
                                 "m.new_content": {"msgtype": "m.text", "body": body},
                                 "m.relates_to": {"rel_type": "m.replace", "event_id": parent}})

    def reply_in_thread(self, token: str, root: str, body: str) -> str:
        return self.text(token, body, {"rel_type": "m.thread", "event_id": root, "is_falling_back": True,
                                       "m.in_reply_to": {"event_id": root}})

    def relations(self, path: str, token: str | None = None, **query: Any) -> Any:
        params = "&".join(f"{key}={value}" for key, value in query.items())
        response = self.server.get(f"{V1}/rooms/{self.room_id}/relations/{path}?{params}", token=token or self.alice)
        assert response.status_code == 200, response.json
        return response.json

    def ids(self, path: str, **query: Any) -> list[str]:
        return [event["event_id"] for event in self.relations(path, **query)["chunk"]]

    def threads(self, token: str | None = None, **query: Any) -> Any:
        params = "&".join(f"{key}={value}" for key, value in query.items())
        response = self.server.get(f"{V1}/rooms/{self.room_id}/threads?{params}", token=token or self.alice)
        assert response.status_code == 200, response.json
        return response.json


@pytest.fixture
def talk(homeserver: HomeserverUnderTest) -> Conversation:
    return Conversation(homeserver)


def test_edits_reactions_and_replies_round_trip_with_narrowing(talk: Conversation) -> None:
    parent = talk.text(talk.alice, "hello")
    thumbs = talk.react(talk.bob, parent, "👍")
    edit = talk.edit(talk.alice, parent, "hello there")
    heart = talk.react(talk.alice, parent, "❤️")
    reply = talk.reply_in_thread(talk.bob, parent, "hi back")
    talk.text(talk.alice, "unrelated")
    assert talk.ids(parent) == [reply, heart, edit, thumbs], "most recent first by default"
    assert talk.ids(parent, dir="f") == [thumbs, edit, heart, reply]
    assert talk.ids(f"{parent}/m.annotation") == [heart, thumbs]
    assert talk.ids(f"{parent}/m.annotation/m.reaction") == [heart, thumbs]
    assert talk.ids(f"{parent}/m.annotation/m.room.message") == []
    assert talk.ids(f"{parent}/m.replace/m.room.message") == [edit]
    assert talk.ids(f"{parent}/m.thread") == [reply]
    body = talk.relations(f"{parent}/m.replace")
    assert body["chunk"][0]["content"]["m.new_content"] == {"msgtype": "m.text", "body": "hello there"}
    assert "next_batch" not in body and "prev_batch" not in body and "recursion_depth" not in body
    assert talk.ids(reply) == []


def test_relations_paginate_in_both_directions(talk: Conversation) -> None:
    parent = talk.text(talk.alice, "vote")
    reactions = [talk.react(talk.bob if index % 2 else talk.alice, parent, f"option {index}") for index in range(7)]
    for direction, expected in (("b", list(reversed(reactions))), ("f", reactions)):
        seen: list[str] = []
        query: dict[str, Any] = {"limit": 3, "dir": direction}
        while True:
            body = talk.relations(parent, **query)
            assert len(body["chunk"]) <= 3
            seen += [event["event_id"] for event in body["chunk"]]
            if "from" in query:
                assert body["prev_batch"] == query["from"]
            if "next_batch" not in body:
                break
            query["from"] = body["next_batch"]
        assert seen == expected
    first = talk.relations(parent, limit=3)
    second = talk.relations(parent, limit=3, **{"from": first["next_batch"]})
    bounded = talk.relations(parent, limit=10, to=second["next_batch"], **{"from": first["next_batch"]})
    assert [event["event_id"] for event in bounded["chunk"]] == [event["event_id"] for event in second["chunk"]]


def test_recurse_follows_relations_of_relations(talk: Conversation) -> None:
    root = talk.text(talk.alice, "root")
    reply = talk.reply_in_thread(talk.bob, root, "in thread")
    reaction = talk.react(talk.alice, reply, "🎉")
    edit_of_reply = talk.edit(talk.bob, reply, "in the thread")
    deeper = talk.react(talk.alice, edit_of_reply, "👀")
    deepest = talk.react(talk.bob, deeper, "🙃")
    assert talk.ids(root) == [reply]
    body = talk.relations(root, recurse="true")
    assert body["recursion_depth"] == 3
    assert [event["event_id"] for event in body["chunk"]] == [deeper, edit_of_reply, reaction, reply]
    assert deepest not in [event["event_id"] for event in body["chunk"]]
    assert talk.ids(f"{root}/m.annotation", recurse="true") == [deeper, reaction]
    assert talk.relations(root, recurse="false")["recursion_depth"] == 1


def test_relations_of_unknown_events_are_404_and_bad_parameters_400(talk: Conversation) -> None:
    response = talk.server.get(f"{V1}/rooms/{talk.room_id}/relations/$unknown", token=talk.alice)
    assert (response.status_code, response.json["errcode"]) == (404, "M_NOT_FOUND")
    parent = talk.text(talk.alice, "hi")
    for query in ("dir=x", "limit=many", "recurse=yes", "from=t-1", "to=bogus"):
        response = talk.server.get(f"{V1}/rooms/{talk.room_id}/relations/{parent}?{query}", token=talk.alice)
        assert response.status_code == 400 and response.json["errcode"] == "M_INVALID_PARAM", query


def test_threads_list_latest_first_with_participation(talk: Conversation) -> None:
    alices_root = talk.text(talk.alice, "alice's topic")
    bobs_root = talk.text(talk.bob, "bob's topic")
    quiet_root = talk.text(talk.bob, "bob's other topic")
    talk.reply_in_thread(talk.bob, alices_root, "one")
    talk.reply_in_thread(talk.bob, quiet_root, "two")
    latest = talk.reply_in_thread(talk.alice, bobs_root, "three")
    talk.react(talk.alice, quiet_root, "👍")  # not a thread: no effect
    talk.text(talk.alice, "no thread here")
    everything = talk.threads()
    assert [event["event_id"] for event in everything["chunk"]] == [bobs_root, quiet_root, alices_root]
    assert "next_batch" not in everything
    summary = everything["chunk"][0]["unsigned"]["m.relations"]["m.thread"]
    assert summary["latest_event"]["event_id"] == latest
    assert summary["count"] == 1 and summary["current_user_participated"] is True
    assert everything["chunk"][1]["unsigned"]["m.relations"]["m.thread"]["current_user_participated"] is False
    mine = talk.threads(include="participated")
    assert [event["event_id"] for event in mine["chunk"]] == [bobs_root, alices_root]
    bobs = talk.threads(token=talk.bob, include="participated")
    assert [event["event_id"] for event in bobs["chunk"]] == [bobs_root, quiet_root, alices_root]
    # A new reply moves a thread to the front.
    talk.reply_in_thread(talk.alice, alices_root, "four")
    assert [event["event_id"] for event in talk.threads()["chunk"]] == [alices_root, bobs_root, quiet_root]


def test_threads_paginate(talk: Conversation) -> None:
    roots = [talk.text(talk.alice, f"topic {index}") for index in range(5)]
    for root in roots:
        talk.reply_in_thread(talk.bob, root, "reply")
    seen: list[str] = []
    query: dict[str, Any] = {"limit": 2}
    while True:
        body = talk.threads(**query)
        seen += [event["event_id"] for event in body["chunk"]]
        if "next_batch" not in body:
            break
        query["from"] = body["next_batch"]
    assert seen == list(reversed(roots))


def test_threads_bad_parameters_are_400(talk: Conversation) -> None:
    for query in ("include=mine", "limit=0", "limit=x", "from=zzz"):
        response = talk.server.get(f"{V1}/rooms/{talk.room_id}/threads?{query}", token=talk.alice)
        assert response.status_code == 400 and response.json["errcode"] == "M_INVALID_PARAM", query


def test_outsiders_cannot_read_relations_or_threads(talk: Conversation) -> None:
    parent = talk.text(talk.alice, "secret")
    talk.react(talk.bob, parent, "🤫")
    eve = talk.server.register("eve")["access_token"]
    for url in (f"{V1}/rooms/{talk.room_id}/relations/{parent}", f"{V1}/rooms/{talk.room_id}/threads",
                f"{V1}/rooms/{talk.room_id}/relations/{parent}/m.annotation/m.reaction"):
        response = talk.server.get(url, token=eve)
        assert (response.status_code, response.json["errcode"]) == (403, "M_FORBIDDEN"), url
