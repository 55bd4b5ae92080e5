"""One scripted simplified sliding sync conversation, run the same way against any homeserver over HTTP, and its
responses reduced to what two servers must agree on (ids, timestamps and server names left out): the response
equivalence tests against Synapse (tests/e2e/test_sliding_sync_synapse.py) compare Ganglion's with Synapse's."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

CLIENT = "/_matrix/client/v3"
SLIDING_SYNC = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync"
COMPARED_CONTENT = {"m.room.name": ("name",), "m.room.topic": ("topic",), "m.room.encryption": ("algorithm",)}
"""State whose content both servers must send alike, by field (other state holds server-specific fields: room
versions, creators, display names; and ``createRoom`` adds spec v1.15's rich ``m.topic`` on Synapse only)."""
REQUIRED_STATE = [["m.room.name", ""], ["m.room.topic", ""], ["m.room.member", "$ME"], ["m.room.encryption", ""],
                  ["m.room.create", ""], ["m.room.member", "$LAZY"]]
LISTS = {
    "all": {"ranges": [[0, 9]], "timeline_limit": 2, "required_state": REQUIRED_STATE},
    "window": {"ranges": [[1, 2]], "timeline_limit": 1, "required_state": [["m.room.name", ""]]},
    "invites": {"ranges": [[0, 9]], "timeline_limit": 0, "required_state": [], "filters": {"is_invite": True}},
    "encrypted": {"ranges": [[0, 9]], "timeline_limit": 0, "required_state": [], "filters": {"is_encrypted": True}},
    "dms": {"ranges": [[0, 9]], "timeline_limit": 0, "required_state": [], "filters": {"is_dm": True}},
    "spaces": {"ranges": [[0, 9]], "timeline_limit": 0, "required_state": [], "filters": {"room_types": ["m.space"]}},
    "favourites": {"ranges": [[0, 9]], "timeline_limit": 0, "required_state": [], "filters": {"tags": ["m.favourite"]}},
}


class Client:
    def __init__(self, http: httpx.Client, token: str, user_id: str) -> None:
        self.http, self.token, self.user_id = http, token, user_id

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = self.http.request(method, path, json=body, params=params,
                                     headers={"Authorization": f"Bearer {self.token}"})
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def room(self, **body: Any) -> str:
        return str(self.call("POST", f"{CLIENT}/createRoom", body)["room_id"])

    def send(self, room_id: str, text: str) -> None:
        self.call("PUT", f"{CLIENT}/rooms/{room_id}/send/m.room.message/{secrets.token_hex(8)}",
                  {"msgtype": "m.text", "body": text})

    def sliding_sync(self, body: dict[str, Any], pos: str | None = None) -> dict[str, Any]:
        return self.call("POST", SLIDING_SYNC, body, **({"pos": pos} if pos else {}))  # type: ignore[no-any-return]


def register(http: httpx.Client, localpart: str) -> Client:
    """The dummy user-interactive-auth flow, with or without a session first (servers differ)."""
    body: dict[str, Any] = {"username": localpart, "password": f"pw {localpart}", "auth": {"type": "m.login.dummy"}}
    response = http.post(f"{CLIENT}/register", json=body)
    if response.status_code == 401:
        body["auth"]["session"] = response.json()["session"]
        response = http.post(f"{CLIENT}/register", json=body)
    assert response.status_code == 200, response.text
    return Client(http, response.json()["access_token"], response.json()["user_id"])


def run_scenario(base_url: str, suffix: str) -> dict[str, Any]:
    """The same rooms, messages and requests on any server; answers the normalized responses."""
    with httpx.Client(base_url=base_url, timeout=60) as http:
        alice = register(http, f"alice{suffix}")
        bob = register(http, f"bob{suffix}")
        labels: dict[str, str] = {}
        labels[alice.room(name="Named", topic="A topic")] = "named"
        group = alice.room(preset="public_chat")
        labels[group] = "group"
        bob.call("POST", f"{CLIENT}/rooms/{group}/join", {})
        secret = alice.room(initial_state=[{"type": "m.room.encryption", "state_key": "",
                                            "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
        labels[secret] = "secret"
        space = alice.room(name="Space", creation_content={"type": "m.space"})
        labels[space] = "space"
        labels[bob.room(is_direct=True, invite=[alice.user_id])] = "dm invite"
        named = next(room_id for room_id, label in labels.items() if label == "named")
        alice.call("PUT", f"{CLIENT}/user/{alice.user_id}/rooms/{named}/tags/m.favourite", {})
        alice.send(named, "named 1")
        bob.send(group, "group 1")
        bob.send(group, "group 2")
        alice.send(secret, "secret 1")
        first = alice.sliding_sync({"lists": LISTS})
        bob.send(group, "group 3")
        alice.call("PUT", f"{CLIENT}/rooms/{named}/state/m.room.topic", {"topic": "Another topic"})
        second = alice.sliding_sync({"lists": LISTS}, first["pos"])
        return {"first": normalize(first, labels), "second": normalize(second, labels)}


def _localpart(user_id: str) -> str:
    return user_id[1:].split(":", 1)[0]


def _state(event: dict[str, Any]) -> tuple[Any, ...]:
    key = event["state_key"]
    shown_key = _localpart(key) if key.startswith("@") else key
    content = {field: event["content"].get(field) for field in COMPARED_CONTENT[event["type"]]} \
        if event["type"] in COMPARED_CONTENT else None
    return event["type"], shown_key, repr(content)


def normalize(response: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    rooms = {}
    for room_id, room in response["rooms"].items():
        rooms[labels[room_id]] = {
            "initial": bool(room.get("initial")),
            "name": room.get("name"),
            "heroes": sorted(_localpart(hero["user_id"]) for hero in room["heroes"]) if "heroes" in room else None,
            "required_state": sorted(_state(event) for event in room.get("required_state", [])),
            "invite_state": sorted(event["type"] for event in room.get("invite_state", [])),
            "timeline": [(event["type"], event["content"].get("body")) for event in room.get("timeline", [])],
            "limited": room.get("limited"),
            "num_live": room.get("num_live"),
            "is_dm": bool(room.get("is_dm")),
            **{count: room.get(count) for count in ("joined_count", "invited_count", "notification_count",
                                                     "highlight_count")},
        }
    order = [labels[room_id] for room_id, _ in sorted(
        ((room_id, room) for room_id, room in response["rooms"].items() if "bump_stamp" in room),
        key=lambda item: -item[1]["bump_stamp"])]
    return {"lists": {name: found["count"] for name, found in response["lists"].items()}, "rooms": rooms,
            "order": order}
