"""Serving stored events to clients: every read path that returns events turns them into JSON here.

An event with a redaction that applies is served redacted (``protocol.redaction.redact_event``) with the
redaction under ``unsigned.redacted_because`` (Client-Server API, "Redactions"). Redactions are looked up for the
whole batch at once: candidates and their events in two queries, and the power levels at a redaction only for the
rare redaction sent by another server's user (rooms/v3 "Handling redactions"). Unredacted events come with their
bundled aggregations (``web.client.aggregations``), which need the reader: every caller names them, and state
events with what they replaced (``unsigned.prev_content``), read for the batch in one query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from persistence.stores.events import StoredEvent
from protocol.auth import CREATE_KEY, POWER_LEVELS_KEY, PowerLevels, power_levels_from_state
from protocol.events.model import Event
from protocol.redaction import redact_event, redaction_applies, redaction_needs_power_levels
from protocol.self_destruct import has_expired
from web.client.aggregations import bundled_aggregations
from web.client.event_format import client_event
from web.deps import Deps


def serve_events(deps: Deps, conn: Connection, events: Sequence[StoredEvent], now_ms: int,
                 user_id: str) -> list[dict[str, Any]]:
    """``events`` in client format for ``user_id``, in the given order: redacted where a valid redaction names
    them, else with their bundled aggregations. With ``enable_ephemeral_messages``, a self-destructing event
    that is due is served pruned even before beat's sweep prunes it in the database (``tasks/event_expiry.py``)."""
    if deps.config.enable_ephemeral_messages:
        events = [_pruned(stored) if has_expired(stored.event, now_ms) else stored for stored in events]
    applied = applied_redactions(deps, conn, events)
    bundles = bundled_aggregations(deps, conn, [stored for stored in events if stored.event_id not in applied],
                                   user_id, now_ms)
    replaced = deps.stores.events.get_events(conn, [stored.replaces_state for stored in events
                                                    if stored.replaces_state and stored.event_id not in applied])
    served = []
    for stored in events:
        redaction = applied.get(stored.event_id)
        if redaction is None:
            body = client_event(stored, now_ms)
            if stored.event_id in bundles:
                body["unsigned"]["m.relations"] = bundles[stored.event_id]
            previous = replaced.get(stored.replaces_state or "")
            if previous is not None:  # spec: "prev_content", what a state change replaced
                body["unsigned"].update(prev_content=dict(previous.event.content), prev_sender=previous.event.sender,
                                        replaces_state=previous.event_id)
            served.append(body)
            continue
        version = stored.event.room_version
        redacted = Event(stored.event_id, version, redact_event(stored.event.pdu, version))
        body = client_event(StoredEvent(redacted, stored.room_id, stored.stream_ordering, stored.rejected_reason),
                            now_ms)
        # ``redacted_by`` is Synapse's (not the spec's): the redaction's id, which clients and SyTest read too.
        body["unsigned"].update(redacted_because=client_event(redaction, now_ms), redacted_by=redaction.event_id)
        served.append(body)
    return served


def _pruned(stored: StoredEvent) -> StoredEvent:
    version = stored.event.room_version
    return StoredEvent(Event(stored.event_id, version, redact_event(stored.event.pdu, version)), stored.room_id,
                       stored.stream_ordering, stored.rejected_reason, stored.replaces_state)


def serve_event(deps: Deps, conn: Connection, stored: StoredEvent, now_ms: int, user_id: str) -> dict[str, Any]:
    return serve_events(deps, conn, [stored], now_ms, user_id)[0]


def applied_redactions(deps: Deps, conn: Connection, events: Sequence[StoredEvent]) -> dict[str, StoredEvent]:
    """target event id -> the earliest redaction that applies to it, for the events of the batch that have one."""
    targets = {stored.event_id: stored for stored in events}
    candidates = deps.stores.relations.list_redactions_of(conn, list(targets))
    if not candidates:
        return {}
    redactions = deps.stores.events.get_events(conn, {rid for ids in candidates.values() for rid in ids})
    pairs = [(targets[target_id], redactions[rid]) for target_id, ids in candidates.items() for rid in ids
             if rid in redactions and redactions[rid].rejected_reason is None
             and redactions[rid].room_id == targets[target_id].room_id]
    pairs.sort(key=lambda pair: pair[1].stream_ordering)
    levels = _levels_at(deps, conn, [redaction for target, redaction in pairs
                                     if redaction_needs_power_levels(redaction.event, target.event)])
    applied: dict[str, StoredEvent] = {}
    for target, redaction in pairs:
        if target.event_id not in applied and redaction_applies(redaction.event, target.event,
                                                                levels.get(redaction.event_id)):
            applied[target.event_id] = redaction
    return applied


def _levels_at(deps: Deps, conn: Connection, redactions: Sequence[StoredEvent]) -> Mapping[str, PowerLevels]:
    """redaction event id -> the power levels in the state at it (a redaction is no state event: before = after)."""
    if not redactions:
        return {}
    stores = deps.stores
    groups = stores.state.get_event_state_groups(conn, [redaction.event_id for redaction in redactions])
    states = stores.state.get_state_ids_for_groups(conn, set(groups.values()), {CREATE_KEY, POWER_LEVELS_KEY})
    cited = stores.events.get_events(conn, {event_id for state in states.values() for event_id in state.values()})
    levels = {}
    for redaction_id, group in groups.items():
        state = {key: cited[event_id].event for key, event_id in states.get(group, {}).items() if event_id in cited}
        levels[redaction_id] = power_levels_from_state(state)
    return levels
