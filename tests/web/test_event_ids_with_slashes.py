"""Room versions 1-3 allow ``/`` in event ids (v3's ids are standard base64); clients and servers send it escaped
(``%2F``), which reaches the router unescaped, so the routes ending in an event id take the rest of the path."""

from __future__ import annotations

import secrets
from urllib.parse import quote

from tests.homeserver import HomeserverUnderTest

V3 = "/_matrix/client/v3"


def test_an_event_whose_id_holds_a_slash_is_served(homeserver: HomeserverUnderTest) -> None:
    alice = homeserver.register("alice")["access_token"]
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
    served = homeserver.get(f"{V3}/rooms/{quote(room_id)}/event/{quote(with_slash, safe='')}", token=alice)
    assert served.status_code == 200, served.json
    assert served.json["event_id"] == with_slash
