"""A sliding sync client as tests drive one: the raw MSC4186 HTTP API, one connection at a time."""

from __future__ import annotations

from typing import Any

from tests.homeserver import HomeserverUnderTest

SLIDING_SYNC = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync"


def sliding_sync(server: HomeserverUnderTest, token: str, body: dict[str, Any], pos: str | None = None,
                 timeout: int | None = None, status: int = 200) -> dict[str, Any]:
    query = "&".join(part for part in (f"pos={pos}" if pos else "", f"timeout={timeout}" if timeout else "")
                     if part)
    response = server.post(SLIDING_SYNC + (f"?{query}" if query else ""), token=token, json=body)
    assert response.status_code == status, response.json
    return response.json  # type: ignore[no-any-return]


def all_rooms(limit: int = 10, end: int = 99, **extra: Any) -> dict[str, Any]:
    """One list over every room, its first ``end + 1`` in range."""
    return {"lists": {"all": {"ranges": [[0, end]], "timeline_limit": limit,
                              "required_state": [["m.room.name", ""]], **extra}}}


def bodies(room: dict[str, Any]) -> list[str]:
    return [event["content"]["body"] for event in room["timeline"] if event["type"] == "m.room.message"]
