"""Room versions 1-3 allow ``/`` in event ids (v3's ids are standard base64); clients and servers send it escaped
(``%2F``), which reaches the router unescaped, so every route naming an event id matches a v3 id whole by its
shape, wherever it sits in the path."""

from __future__ import annotations

import secrets
from urllib.parse import quote

from tests.homeserver import HomeserverUnderTest

V3 = "/_matrix/client/v3"


def _event_with_slash(homeserver: HomeserverUnderTest, alice: str) -> tuple[str, str]:
    room_id = homeserver.post(f"{V3}/createRoom", token=alice, json={"room_version": "3"}).json["room_id"]
    with_slash = None
    for _ in range(60):  # about half of all v3 event ids hold a "/"
        sent = homeserver.put(f"{V3}/rooms/{room_id}/send/m.room.message/{secrets.token_hex(4)}", token=alice,
                              json={"msgtype": "m.text", "body": "hi"})
        assert sent.status_code == 200, sent.json
        if "/" in sent.json["event_id"]:
            with_slash = sent.json["event_id"]
            break
    assert with_slash is not None, "no v3 event id with a slash in 60 events"
    return room_id, with_slash


def test_an_event_whose_id_holds_a_slash_is_served(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
    room_id, with_slash = _event_with_slash(homeserver, alice)
    served = homeserver.get(f"{V3}/rooms/{quote(room_id)}/event/{quote(with_slash, safe='')}", token=alice)
    assert served.status_code == 200, served.json
    assert served.json["event_id"] == with_slash


def test_every_route_naming_an_event_takes_an_id_with_a_slash(homeserver: HomeserverUnderTest) -> None:
    """The segments after the id (a transaction id, a relation type) stay theirs: a greedy or per-segment match
    would split the id there and answer 404 or act on another event."""
    alice = homeserver.register("alice")["access_token"]
    room_id, with_slash = _event_with_slash(homeserver, alice)
    room, event = quote(room_id), quote(with_slash, safe="")
    reacted = homeserver.put(f"{V3}/rooms/{room}/send/m.reaction/r1", token=alice, json={
        "m.relates_to": {"rel_type": "m.annotation", "event_id": with_slash, "key": "+1"}})
    assert reacted.status_code == 200, reacted.json

    for suffix in ("", "/m.annotation", "/m.annotation/m.reaction"):
        related = homeserver.get(f"/_matrix/client/v1/rooms/{room}/relations/{event}{suffix}", token=alice)
        assert related.status_code == 200, (suffix, related.json)
        assert [e["event_id"] for e in related.json["chunk"]] == [reacted.json["event_id"]], suffix

    context = homeserver.get(f"{V3}/rooms/{room}/context/{event}?limit=0", token=alice)
    assert context.status_code == 200 and context.json["event"]["event_id"] == with_slash, context.json
    receipt = homeserver.post(f"{V3}/rooms/{room}/receipt/m.read/{event}", token=alice, json={})
    assert receipt.status_code == 200, receipt.json
    report = homeserver.post(f"{V3}/rooms/{room}/report/{event}", token=alice, json={"reason": "test"})
    assert report.status_code == 200, report.json

    redacted = homeserver.put(f"{V3}/rooms/{room}/redact/{event}/t1", token=alice, json={})
    assert redacted.status_code == 200, redacted.json
    again = homeserver.post(f"{V3}/rooms/{room}/redact/{event}", token=alice, json={})
    assert again.status_code == 200, again.json
    served = homeserver.get(f"{V3}/rooms/{room}/event/{event}", token=alice)
    assert served.json["unsigned"]["redacted_because"]["event_id"] in (
        redacted.json["event_id"], again.json["event_id"])
    assert served.json["content"] == {}
