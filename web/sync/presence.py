"""Presence in ``/sync`` (Client-Server API, "Presence"): what a sync does to its user's presence, and the
top-level ``presence`` section.

A sync marks its user online (or ``unavailable``, with ``set_presence``; ``offline`` leaves presence alone), but
is written only when that changes something or the record has grown stale (``protocol/presence.py``): most syncs
only read one row. When it is written, the sync waits for it, so its own response already holds the change and
its next long-poll is not woken by it.

The section lists ``m.presence`` events of the user and of everyone sharing a joined room with them whose
presence changed in the range, and, as Synapse sends them, of those who came to share a room with them in the
events range (they joined it, or the user did), offline or not, through ``filter.presence``. An initial sync
leaves offline users out unless ``presence.include_offline_users_on_sync`` (Synapse's default and option).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from protocol.errors import LimitExceeded, ServerUnavailable
from protocol.presence import PRESENCE_TYPE, presence_content, sync_needs_writing, sync_target
from tasks import api as tasks_api
from web.deps import Deps
from web.ratelimit import check_rate_limit
from web.sync.rooms import Range, SyncReader

logger = logging.getLogger(__name__)


def record_sync(current: Deps, user_id: str, set_presence: str | None, wait_ms: int) -> None:
    """Bring the user's presence up to date for a sync that may be held open ``wait_ms``, if it needs it."""
    config = current.config.presence
    target = sync_target(set_presence)
    if not config.tracked or target is None:
        return
    with current.database.read() as conn:
        recorded = current.stores.presence.get_presence(conn, user_id)
    if not sync_needs_writing(recorded, target, current.clock.now_ms(), wait_ms, config.timers):
        return
    try:
        # Over the limit, the sync goes on without touching presence, as Synapse's does.
        check_rate_limit(current, "rc_presence.per_user", user_id)
        tasks_api.record_sync(current.dispatcher, user_id=user_id, presence=target, wait_ms=wait_ms)
    except LimitExceeded:
        return
    except ServerUnavailable:
        logger.warning("presence of %s not recorded: its writer did not answer", user_id)


def presence_events(reader: SyncReader, span: Range, events_span: Range,
                    joined: Collection[str]) -> list[dict[str, Any]]:
    """The ``presence`` section's events; ``events_span`` and the ``joined`` rooms find who newly shares one."""
    config = reader.deps.config.presence
    if not config.enabled:
        return []
    store = reader.deps.stores.presence
    changes = [] if span.unchanged else store.list_visible_changes(
        reader.conn, reader.user_id, span.since, span.until,
        include_offline=span.since is not None or config.include_offline_users_on_sync)
    if events_span.since is not None and not events_span.unchanged:
        known = {change.user_id for change in changes}
        changes += [state for state in store.list_newly_visible(reader.conn, reader.user_id, joined,
                                                                events_span.since, events_span.until)
                    if state.user_id not in known]
    event_filter = reader.filter.presence
    events = []
    for change in changes:
        content = presence_content(change, reader.now_ms, config.timers)
        if event_filter.matches(PRESENCE_TYPE, change.user_id, content):
            events.append({"type": PRESENCE_TYPE, "sender": change.user_id, "content": content})
    return event_filter.latest(events)
