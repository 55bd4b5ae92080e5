"""Bundled aggregations (Client-Server API, "Aggregations of child events"): the ``unsigned.m.relations`` of events
as they are served, for ``m.thread`` ("Threading"), ``m.replace`` ("Event replacements") and ``m.reference``
("Reference relations").

Only unredacted events come here (a redacted parent gets no bundles), and state events, edits and reactions get
none, as in Synapse; thread summaries only go to events that relate to nothing (a thread cannot start on one).
A thread's latest reply is served with its own edits and references, and only if the reader may see it. Which
children count (accepted, not redacted) is the relation store's rule. The whole batch costs a fixed number of
queries, whatever its size: thread summaries, their latest replies, the reader's participation, the edit
candidates and their events, and the references; plus the visibility of the latest replies once per room.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from persistence.stores.events import StoredEvent, topological_key
from protocol.edits import applicable_replacement, relation_type
from web.client.event_format import client_event
from web.client.room_access import visible_events
from web.deps import Deps

WITHOUT_BUNDLES = ("m.replace", "m.annotation")
"""Relation types whose events have no children to bundle (Synapse skips them)."""


@dataclass(frozen=True)
class Thread:
    latest: StoredEvent
    count: int
    participated: bool


def bundled_aggregations(deps: Deps, conn: Connection, events: Sequence[StoredEvent], user_id: str,
                         now_ms: int) -> dict[str, dict[str, Any]]:
    """event id -> its ``m.relations``, for those of ``events`` (unredacted, as ``user_id`` is served them) that
    have any."""
    parents = {stored.event_id: stored for stored in events
               if not stored.event.is_state and relation_type(stored.event) not in WITHOUT_BUNDLES}
    if parents:  # most events have no children at all: one cheap look spares the three aggregation queries
        with_children = deps.stores.relations.list_parents_with_children(conn, list(parents))
        parents = {event_id: stored for event_id, stored in parents.items() if event_id in with_children}
    if not parents:
        return {}
    roots = [stored for stored in parents.values() if relation_type(stored.event) is None]
    threads = _threads(deps, conn, roots, user_id)
    targets = {**parents, **{thread.latest.event_id: thread.latest for thread in threads.values()}}
    edits = _applicable_edits(deps, conn, targets)
    references = deps.stores.relations.list_references(conn, list(targets))

    def own(event_id: str) -> dict[str, Any]:
        relations: dict[str, Any] = {}
        if event_id in edits:  # v1.7+: the whole replacement event, formatted as normal
            relations["m.replace"] = client_event(edits[event_id], now_ms)
        if event_id in references:
            relations["m.reference"] = {"chunk": [{"event_id": child} for child in references[event_id]]}
        return relations

    bundles: dict[str, dict[str, Any]] = {}
    for event_id in parents:
        relations = own(event_id)
        thread = threads.get(event_id)
        if thread is not None:
            latest = client_event(thread.latest, now_ms)
            if latest_relations := own(thread.latest.event_id):
                latest["unsigned"]["m.relations"] = latest_relations
            relations["m.thread"] = {"latest_event": latest, "count": thread.count,
                                     "current_user_participated": thread.participated}
        if relations:
            bundles[event_id] = relations
    return bundles


def _threads(deps: Deps, conn: Connection, roots: Sequence[StoredEvent], user_id: str) -> dict[str, Thread]:
    """root id -> its thread, for the roots with a reply whose latest the reader may see.

    ``current_user_participated``: the reader sent the root or a reply (spec: "Server-side aggregation of
    m.thread relationships").
    """
    stores = deps.stores
    summaries = stores.relations.list_thread_summaries(conn, [root.event_id for root in roots])
    if not summaries:
        return {}
    latest = stores.events.get_events(conn, [summary.latest_event_id for summary in summaries.values()])
    by_room: dict[str, list[StoredEvent]] = {}
    for stored in sorted(latest.values(), key=topological_key):
        by_room.setdefault(stored.room_id, []).append(stored)
    visible = {stored.event_id for room_id, batch in by_room.items()
               for stored in visible_events(deps, conn, room_id, user_id, batch)}
    asked = [root.event_id for root in roots if root.event_id in summaries and root.event.sender != user_id]
    replied = stores.relations.list_threads_participated(conn, asked, user_id)
    threads = {}
    for root in roots:
        summary = summaries.get(root.event_id)
        if summary is None or summary.latest_event_id not in visible:
            continue
        threads[root.event_id] = Thread(latest[summary.latest_event_id], summary.count,
                                        root.event.sender == user_id or root.event_id in replied)
    return threads


def _applicable_edits(deps: Deps, conn: Connection, targets: Mapping[str, StoredEvent]) -> dict[str, StoredEvent]:
    """target id -> the edit that applies to it (``protocol.edits``), for the targets that have one."""
    candidates = deps.stores.relations.list_replacement_candidates(conn, list(targets))
    if not candidates:
        return {}
    loaded = deps.stores.events.get_events(conn, {edit_id for ids in candidates.values() for edit_id in ids})
    edits = {}
    for target_id, ids in candidates.items():
        chosen = applicable_replacement(targets[target_id].event,
                                        [loaded[edit_id].event for edit_id in ids if edit_id in loaded])
        if chosen is not None:
            edits[target_id] = loaded[chosen.event_id]
    return edits
