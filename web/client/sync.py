"""``GET /sync`` (Client-Server API, "Syncing"): the client's view since its token, long-polling when empty.

A sync with nothing new waits up to ``timeout`` milliseconds for the doorbell to ring for its user or one of its
rooms (``web/sync/notifier.py``), then looks again. It registers before its first look, so no ring is missed. It
also answers when the device's one-time key counts moved since its first look (another user claimed a key).
Before its first look it brings the user's presence up to date (``set_presence``; ``web/sync/presence.py``).
``ganglion_sync_long_poll_returns_total{cause}`` counts what ended each long-poll: news found after a wait that
timed out means a ring went missing, which DESIGN.md guarantee 5 says must not be how syncs learn of news.
"""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Blueprint

from protocol.errors import InvalidParam, NotJson
from protocol.sync_filters import DEFAULT_FILTER, SyncFilter
from protocol.sync_tokens import MAX_TOKEN_LENGTH, parse_sync_token
from web.auth import authenticate
from web.client.filters import load_filter
from web.client.paging import MAX_FILTER_LENGTH, query_integer
from web.deps import Deps, deps
from web.metrics import LONG_POLL_RETURNS
from web.requests import query_text
from web.routing import client_route
from web.sync.presence import record_sync
from web.sync.response import SyncRequest, acknowledge_to_device, build_sync, listen_keys

MAX_TIMEOUT_MS = 120_000
"""The longest a sync waits, whatever the client asks (gunicorn's worker timeout is longer)."""
PRESENCE_STATES = ("online", "offline", "unavailable")
UNSTABLE_USE_STATE_AFTER = "org.matrix.msc4222.use_state_after"
"""MSC4222's name for ``use_state_after`` (spec v1.16), which clients may send ahead of the stable one."""


def _sync_filter(current: Deps, user_id: str) -> SyncFilter:
    """``filter``: a stored filter's id, or a filter inline as JSON (spec: it starts with ``{``)."""
    value = query_text("filter", max_length=MAX_FILTER_LENGTH)
    if value is None:
        return DEFAULT_FILTER
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except (ValueError, RecursionError):
            raise NotJson("Query parameter 'filter' is not JSON") from None
        return SyncFilter.parse(data)
    return SyncFilter.parse(load_filter(current, user_id, value))


def _flag(name: str) -> bool:
    value = query_text(name, max_length=8)
    if value not in (None, "true", "false"):
        raise InvalidParam(f"Query parameter '{name}' must be 'true' or 'false'")
    return value == "true"


def sync() -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    since_text = query_text("since", max_length=MAX_TOKEN_LENGTH)
    since = parse_sync_token(since_text) if since_text is not None else None
    timeout = query_integer("timeout") or 0
    if timeout < 0:
        raise InvalidParam("Query parameter 'timeout' must not be negative")
    presence = query_text("set_presence", max_length=16)
    if presence is not None and presence not in PRESENCE_STATES:
        raise InvalidParam(f"Query parameter 'set_presence' must be one of {', '.join(PRESENCE_STATES)}")
    request = SyncRequest(requester.user_id, requester.device_id, since, _sync_filter(current, requester.user_id),
                          _flag("full_state"), _flag("use_state_after") or _flag(UNSTABLE_USE_STATE_AFTER))
    acknowledge_to_device(current, request)
    waits = since is not None and not request.full_state and timeout > 0
    wait_ms = min(timeout, MAX_TIMEOUT_MS) if waits else 0
    record_sync(current, requester.user_id, presence, wait_ms)
    if not waits:
        return build_sync(current, request).body
    deadline = time.monotonic() + wait_ms / 1000
    ended_wait: str | None = None  # what ended the last wait: a ring, or its timeout
    with current.notifier.listening(listen_keys(current, requester.user_id)) as waiter:
        first = result = build_sync(current, request)
        while True:
            if result.worth_returning_after(first):
                LONG_POLL_RETURNS.labels(ended_wait or "at_once").inc()
                return result.body
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                LONG_POLL_RETURNS.labels("timeout").inc()
                return result.body
            woken = waiter.wait(remaining)
            ended_wait = "ring" if woken else "timeout"
            if not woken:
                result = build_sync(current, request)
                continue
            # Woken by a ring: in its turn among the syncs it woke, so requests arriving meanwhile are served
            # (web/sync/turns.py), reading what they all need once, with them (web/sync/shared.py).
            with current.notifier.turns.turn():
                result = build_sync(current, request, current.notifier.shared.snapshot())


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/sync", methods=["GET"])(sync)
