"""Requests that name users of other servers: until federation exists, those servers cannot be asked, and the
key endpoints report each of them under ``failures`` as an unreachable server (Synapse's shape for a server it
is not retrying: a status and a message)."""

from __future__ import annotations

from typing import Any, TypeVar

from protocol.identifiers import UserId

T = TypeVar("T")

REMOTE_FAILURE: dict[str, Any] = {"status": 503, "message": "Federation is not available on this server"}


def split_local(by_user: dict[str, T], server_name: str) -> tuple[dict[str, T], list[str]]:
    """The entries for this server's users, and the other servers named (sorted); user ids are already valid."""
    local: dict[str, T] = {}
    remote: set[str] = set()
    for user_id, value in by_user.items():
        server = UserId.parse(user_id).server_name
        if server == server_name:
            local[user_id] = value
        else:
            remote.add(server)
    return local, sorted(remote)
