"""Remote users' profiles for ``GET /profile/{userId}`` (Server-Server API, "Query": ``/query/profile``), cached
briefly per web process: a client showing a member list asks for the same profiles again and again, and a stale
display name for a minute is what Synapse's own cache allows too."""

from __future__ import annotations

import threading
from typing import Any

from federation_client.errors import FederationError
from protocol.clock import Clock
from web.remote.calls import as_client_error

CACHE_MS = 60_000
MAX_ENTRIES = 10_000
PROFILE_FIELDS = ("displayname", "avatar_url")


class RemoteProfileCache:
    """user id -> (expiry, profile); thread-safe, bounded (the oldest entries go first)."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[int, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, user_id: str, now_ms: int) -> dict[str, Any] | None:
        with self._lock:
            entry = self._entries.get(user_id)
        return entry[1] if entry is not None and entry[0] > now_ms else None

    def put(self, user_id: str, profile: dict[str, Any], now_ms: int) -> None:
        with self._lock:
            self._entries.pop(user_id, None)
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.pop(next(iter(self._entries)))
            self._entries[user_id] = (now_ms + CACHE_MS, profile)


def remote_profile(client: Any, cache: RemoteProfileCache, clock: Clock, server: str,
                   user_id: str) -> dict[str, Any]:
    """The profile ``server`` reports for ``user_id`` (only string fields kept); raises the client's error when
    the server cannot be asked or has no such user."""
    now = clock.now_ms()
    cached = cache.get(user_id, now)
    if cached is not None:
        return cached
    try:
        answer = client.get_json(server, "/_matrix/federation/v1/query/profile", {"user_id": user_id})
    except FederationError as error:
        raise as_client_error(server, error) from None
    fields = answer if isinstance(answer, dict) else {}
    profile = {key: value for key, value in fields.items()
               if isinstance(key, str) and isinstance(value, str) and (key in PROFILE_FIELDS or "." in key)}
    cache.put(user_id, profile, now)
    return profile
