"""``POST /_matrix/client/unstable/org.matrix.simplified_msc3575/sync`` (MSC4186).

``pos`` and ``timeout`` are query parameters, the rest is the body. A request with ``pos`` whose response would
be empty waits up to ``timeout`` milliseconds for the doorbell to ring for the user or one of their joined rooms,
as ``/sync`` does (``web/client/sync.py``): registered before the first look, so no ring is missed. Every
response is stored as a new position, so the next request may land on any web process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from flask import Blueprint

from persistence.stores.e2e_keys import DeviceKeyCounts
from protocol.errors import InvalidParam
from protocol.sliding_sync.connection_state import SentRoom
from protocol.sliding_sync.request import SlidingRequest
from protocol.sync_filters import DEFAULT_FILTER
from protocol.sync_tokens import SyncToken
from web.auth import authenticate
from web.client.paging import query_integer
from web.deps import Deps, deps
from web.metrics import LONG_POLL_RETURNS
from web.requests import json_body, query_text
from web.sliding_sync.connection import MAX_POS_LENGTH, StartingPoint, load_position, save_position
from web.sliding_sync.extensions import ExtensionScope, acknowledge, build_extensions
from web.sliding_sync.room_data import build_rooms, bump_stamps_of
from web.sliding_sync.room_list import direct_rooms, list_rooms, user_memberships
from web.sync.response import EVENTS, RECEIPTS, current_token, listen_keys
from web.sync.rooms import SyncReader

UNSTABLE_PREFIX = "unstable/org.matrix.simplified_msc3575"
MAX_TIMEOUT_MS = 120_000


@dataclass(frozen=True)
class Built:
    body: dict[str, Any]
    empty: bool
    until: SyncToken
    rooms: dict[str, SentRoom]
    key_counts: DeviceKeyCounts | None

    def worth_returning_after(self, first: Built) -> bool:
        """Something new, or one-time key counts that moved while waiting (as ``/sync``)."""
        return not self.empty or self.key_counts != first.key_counts


def build(current: Deps, user_id: str, device_id: str, request: SlidingRequest, start: StartingPoint) -> Built:
    with current.database.read() as conn:
        until = current_token(current, conn)
        reader = SyncReader(current, conn, user_id, device_id, DEFAULT_FILTER, current.clock.now_ms())
        since_events = start.since.stream(EVENTS) if start.since is not None else None
        events_until = until.stream(EVENTS)
        memberships = user_memberships(reader, since_events, events_until)
        direct = direct_rooms(reader, memberships)
        listed = list_rooms(reader, request, memberships, direct, events_until)
        bumps = {room_id: facts.bump_stamp for room_id, facts in listed.facts.items()}
        bumps.update(bump_stamps_of(reader, [room_id for room_id in listed.configs if room_id not in bumps],
                                    memberships, events_until))
        receipts_moved: set[str] = set()
        if start.since is not None and not start.since.stream(RECEIPTS).covers(until.stream(RECEIPTS)):
            receipts_moved = {receipt.room_id for receipt in current.stores.receipts.list_receipts(
                conn, list(listed.configs), user_id, start.since.stream(RECEIPTS), until.stream(RECEIPTS))
                if receipt.user_id == user_id}
        rooms = build_rooms(reader, listed.configs, memberships, bumps, direct, start.rooms, receipts_moved,
                            events_until)
        subscriptions = [room_id for room_id, _ in request.room_subscriptions if room_id in memberships]
        extensions, news = build_extensions(reader, request, start.since, until,
                                            ExtensionScope(listed.windows, subscriptions, rooms.fresh, memberships))
        key_counts = current.stores.e2e_keys.get_key_counts(conn, user_id, device_id) \
            if request.extension("e2ee") is not None else None
    body = {"lists": {name: {"count": count} for name, count in listed.counts.items()},
            "rooms": rooms.bodies, "extensions": extensions}
    return Built(body, not rooms.bodies and not news, until, rooms.sent, key_counts)


def sliding_sync() -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    pos = query_text("pos", max_length=MAX_POS_LENGTH + 1)
    timeout = query_integer("timeout") or 0
    if timeout < 0:
        raise InvalidParam("Query parameter 'timeout' must not be negative")
    request = SlidingRequest.parse(json_body().data)
    conn_id = request.conn_id or ""
    user_id, device_id = requester.user_id, requester.device_id
    start = load_position(current, user_id, device_id, conn_id, pos)
    request, subscriptions = request.with_subscriptions(start.subscriptions)
    acknowledge(current, request, user_id, device_id)
    result = _answer(current, user_id, device_id, request, start, timeout)
    position = save_position(current, user_id, device_id, conn_id, start, result.until, result.rooms,
                             subscriptions)
    return {"pos": position, **result.body}


def _answer(current: Deps, user_id: str, device_id: str, request: SlidingRequest, start: StartingPoint,
            timeout: int) -> Built:
    if start.since is None or timeout == 0:
        return build(current, user_id, device_id, request, start)
    deadline = time.monotonic() + min(timeout, MAX_TIMEOUT_MS) / 1000
    ended_wait: str | None = None
    with current.notifier.listening(listen_keys(current, user_id)) as waiter:
        first = result = build(current, user_id, device_id, request, start)
        while True:
            if result.worth_returning_after(first):
                LONG_POLL_RETURNS.labels(ended_wait or "at_once").inc()
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                LONG_POLL_RETURNS.labels("timeout").inc()
                return result
            ended_wait = "ring" if waiter.wait(remaining) else "timeout"
            result = build(current, user_id, device_id, request, start)


def register_routes(blueprint: Blueprint) -> None:
    blueprint.add_url_rule(f"/_matrix/client/{UNSTABLE_PREFIX}/sync", endpoint="simplified_sliding_sync",
                           view_func=sliding_sync, methods=["POST"])
