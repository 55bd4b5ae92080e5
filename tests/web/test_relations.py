"""Relationships: /relations and /threads over edits, reactions, replies and threads, and the bundled
aggregations every read path serves, in both shapes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.homeserver import HomeserverUnderTest
from tests.statements import recorded_statements

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

    def reference(self, token: str, parent: str) -> str:
        return self.send(token, {"m.relates_to": {"rel_type": "m.reference", "event_id": parent}},
                         "org.example.note")

    def redact(self, token: str, event_id: str) -> None:
        self._txn += 1
        response = self.server.put(f"{V3}/rooms/{self.room_id}/redact/{event_id}/r{self._txn}", token=token, json={})
        assert response.status_code == 200, response.json

    def event(self, event_id: str, token: str | None = None) -> Any:
        response = self.server.get(f"{V3}/rooms/{self.room_id}/event/{event_id}", token=token or self.alice)
        assert response.status_code == 200, response.json
        return response.json

    def messages(self, token: str | None = None, limit: int = 50) -> dict[str, Any]:
        """The room's events by id, as one backwards /messages page serves them."""
        response = self.server.get(f"{V3}/rooms/{self.room_id}/messages?dir=b&limit={limit}",
                                   token=token or self.alice)
        assert response.status_code == 200, response.json
        return {event["event_id"]: event for event in response.json["chunk"]}

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


# --- bundled aggregations (spec: "Aggregations of child events") ---------------------------------------------------
def _relations(event: dict[str, Any]) -> dict[str, Any]:
    return dict(event["unsigned"].get("m.relations", {}))


def _most_recent(talk: Conversation, edit_ids: list[str]) -> str:
    """The edit the spec says applies: greatest origin_server_ts, ties to the largest event id."""
    served = [talk.event(edit_id) for edit_id in edit_ids]
    return str(max(served, key=lambda event: (event["origin_server_ts"], event["event_id"]))["event_id"])


def test_events_are_served_with_their_most_recent_valid_edit(talk: Conversation) -> None:
    parent = talk.text(talk.alice, "hello")
    valid = [talk.edit(talk.alice, parent, "hello there")]
    talk.server.clock.advance(10)
    valid.append(talk.edit(talk.alice, parent, "hello again"))
    talk.server.clock.advance(10)
    talk.edit(talk.bob, parent, "not yours to edit")
    talk.send(talk.alice, {"body": "* no new content", "m.relates_to": {"rel_type": "m.replace", "event_id": parent}})
    talk.send(talk.alice, {"body": "* other type", "m.new_content": {"body": "x"},
                           "m.relates_to": {"rel_type": "m.replace", "event_id": parent}}, "org.example.other")
    expected = _most_recent(talk, valid)

    for served in (talk.event(parent), talk.messages()[parent],
                   talk.server.get(f"{V3}/rooms/{talk.room_id}/context/{parent}", token=talk.bob).json["event"]):
        replacement = _relations(served)["m.replace"]
        assert replacement["event_id"] == expected
        assert replacement["sender"] == "@alice:test.local" and replacement["type"] == "m.room.message"
        assert "m.new_content" in replacement["content"], "v1.7+: the whole replacement event is bundled"
        assert served["content"]["body"] == "hello", "the original's content is left as it was"
    assert "m.relations" not in talk.event(expected)["unsigned"], "an edit has no bundles of its own"

    talk.redact(talk.alice, expected)
    remaining = [edit_id for edit_id in valid if edit_id != expected]
    assert _relations(talk.event(parent))["m.replace"]["event_id"] == remaining[0], "a redacted edit does not count"
    talk.redact(talk.alice, remaining[0])
    assert "m.replace" not in _relations(talk.event(parent))


def test_thread_roots_carry_their_summary_wherever_they_are_served(talk: Conversation) -> None:
    carol = talk.server.register("carol")["access_token"]
    talk.server.post(f"{V3}/rooms/{talk.room_id}/join", token=carol, json={})
    root = talk.text(talk.alice, "topic")
    first = talk.reply_in_thread(talk.bob, root, "one")
    latest = talk.reply_in_thread(talk.bob, root, "two")
    latest_edit = talk.edit(talk.bob, latest, "two, edited")
    note = talk.reference(talk.alice, latest)

    for token, participated in ((talk.alice, True), (talk.bob, True), (carol, False)):
        for served in (talk.event(root, token), talk.messages(token)[root]):
            thread = _relations(served)["m.thread"]
            assert (thread["count"], thread["current_user_participated"]) == (2, participated)
            assert thread["latest_event"]["event_id"] == latest
            assert thread["latest_event"]["content"]["body"] == "two", "served in the same form as the event"
            latest_relations = thread["latest_event"]["unsigned"]["m.relations"]
            assert latest_relations["m.replace"]["event_id"] == latest_edit
            assert latest_relations["m.reference"] == {"chunk": [{"event_id": note}]}
    assert "m.thread" not in _relations(talk.event(latest)), "a reply in a thread is no thread root"
    assert talk.threads()["chunk"][0]["unsigned"]["m.relations"]["m.thread"]["count"] == 2

    talk.redact(talk.bob, latest)
    thread = _relations(talk.event(root))["m.thread"]
    assert (thread["count"], thread["latest_event"]["event_id"]) == (1, first), "a redacted reply does not count"
    assert talk.threads()["chunk"][0]["unsigned"]["m.relations"]["m.thread"]["count"] == 1


def test_a_departed_member_is_not_shown_a_reply_sent_after_they_left(talk: Conversation) -> None:
    root = talk.text(talk.alice, "topic")
    talk.reply_in_thread(talk.alice, root, "before bob left")
    talk.server.post(f"{V3}/rooms/{talk.room_id}/leave", token=talk.bob, json={})
    talk.reply_in_thread(talk.alice, root, "after bob left")
    assert _relations(talk.event(root))["m.thread"]["count"] == 2
    assert "m.thread" not in _relations(talk.messages(talk.bob)[root])


def test_references_are_bundled_as_a_chunk_of_event_ids(talk: Conversation) -> None:
    parent = talk.text(talk.alice, "start verification")
    notes = [talk.reference(talk.bob, parent), talk.reference(talk.alice, parent), talk.reference(talk.bob, parent)]
    talk.redact(talk.bob, notes[2])
    expected = {"chunk": [{"event_id": notes[0]}, {"event_id": notes[1]}]}
    assert _relations(talk.event(parent))["m.reference"] == expected


def test_redacted_parents_and_state_events_get_no_bundles(talk: Conversation) -> None:
    parent = talk.text(talk.alice, "soon gone")
    talk.edit(talk.alice, parent, "edited")
    talk.reply_in_thread(talk.bob, parent, "reply")
    talk.reference(talk.bob, parent)
    assert set(_relations(talk.event(parent))) == {"m.replace", "m.thread", "m.reference"}
    talk.redact(talk.alice, parent)
    assert "m.relations" not in talk.event(parent)["unsigned"]
    assert "m.relations" not in talk.messages()[parent]["unsigned"]

    topic = talk.server.put(f"{V3}/rooms/{talk.room_id}/state/m.room.topic", token=talk.alice,
                            json={"topic": "t"}).json["event_id"]
    talk.reference(talk.bob, topic)
    talk.reply_in_thread(talk.bob, topic, "about the topic")
    assert "m.relations" not in talk.event(topic)["unsigned"]


def test_bundling_costs_the_same_queries_for_a_page_of_two_or_of_twenty(talk: Conversation) -> None:
    def page_cost(limit: int) -> int:
        with recorded_statements(talk.server.deps.database) as statements:
            served = talk.messages(limit=limit)
        assert sum("m.relations" in event["unsigned"] for event in served.values()) >= limit // 4
        return len(statements)

    for index in range(10):
        parent = talk.text(talk.alice, f"message {index}")
        talk.edit(talk.alice, parent, f"message {index}, edited")
        talk.reference(talk.bob, talk.reply_in_thread(talk.bob, parent, "reply"))
    assert page_cost(limit=4) == page_cost(limit=40)


def test_a_duplicate_annotation_is_refused_until_the_first_is_redacted(talk: Conversation) -> None:
    parent = talk.text(talk.alice, "hello")
    first = talk.react(talk.bob, parent, "👍")
    reaction = {"m.relates_to": {"rel_type": "m.annotation", "event_id": parent, "key": "👍"}}
    duplicate = talk.server.put(f"{V3}/rooms/{talk.room_id}/send/m.reaction/dup1", token=talk.bob, json=reaction)
    assert (duplicate.status_code, duplicate.json["errcode"]) == (400, "M_DUPLICATE_ANNOTATION")
    talk.react(talk.alice, parent, "👍")  # someone else's same key is no duplicate
    talk.react(talk.bob, parent, "🎉")  # nor is another key
    talk.send(talk.bob, reaction, "org.example.reaction")  # nor another event type
    talk.redact(talk.bob, first)
    assert talk.react(talk.bob, parent, "👍") != first, "once redacted, the key may be used again"
