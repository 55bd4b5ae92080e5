"""Requests that name users of several servers: the entries for this server's users, and the others grouped by
the server that holds them, to ask each once."""

from __future__ import annotations

from typing import TypeVar

from protocol.identifiers import UserId

T = TypeVar("T")


def split_by_server(by_user: dict[str, T], server_name: str) -> tuple[dict[str, T], dict[str, dict[str, T]]]:
    """``by_user``'s local entries, and the rest as server -> user -> value; user ids are already valid."""
    local: dict[str, T] = {}
    remote: dict[str, dict[str, T]] = {}
    for user_id, value in by_user.items():
        server = UserId.parse(user_id).server_name
        if server == server_name:
            local[user_id] = value
        else:
            remote.setdefault(server, {})[user_id] = value
    return local, remote
