"""Walks of a room's event graph for federation: auth chains, prev-event links, which events are outliers.

Read-only; the events writer stores the edges (``persistence/stores/events.py``). Servers asking for an event's
auth chain (``/event_auth``, ``/state``), for the events before some (``/backfill``, ``/get_missing_events``), and
the writer judging a received event all read through here.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, and_, func, select

from persistence.tables import event_auth, event_edges, event_state_groups, events
from protocol.tokens import RoomPosition

BATCH = 500
"""Event ids per ``IN`` list (SQLite allows 999 bound parameters per statement)."""


def _batches(ids: Iterable[str]) -> Iterable[list[str]]:
    wanted = list(dict.fromkeys(ids))
    for start in range(0, len(wanted), BATCH):
        yield wanted[start:start + BATCH]


class EventGraphStore:
    def get_auth_chain_ids(self, conn: Connection, event_ids: Iterable[str]) -> set[str]:
        """Every event reachable from ``event_ids`` by ``auth_events`` links, the starting events excluded
        (spec: rooms/v2 "Auth chain")."""
        chain: set[str] = set()
        frontier = list(dict.fromkeys(event_ids))
        while frontier:
            found: list[str] = []
            for batch in _batches(frontier):
                found.extend(conn.execute(select(event_auth.c.auth_event_id)
                                          .where(event_auth.c.event_id.in_(batch))).scalars())
            frontier = [event_id for event_id in dict.fromkeys(found) if event_id not in chain]
            chain.update(frontier)
        return chain

    def get_prev_event_ids(self, conn: Connection, event_ids: Iterable[str]) -> dict[str, list[str]]:
        """event id -> its ``prev_events``, for every listed event stored with any."""
        found: dict[str, list[str]] = {}
        for batch in _batches(event_ids):
            rows = conn.execute(select(event_edges.c.event_id, event_edges.c.prev_event_id)
                                .where(event_edges.c.event_id.in_(batch)))
            for row in rows:
                found.setdefault(row.event_id, []).append(row.prev_event_id)
        return found

    def list_stored(self, conn: Connection, event_ids: Iterable[str]) -> dict[str, bool]:
        """event id -> whether it is an outlier, for every listed event this server holds."""
        found: dict[str, bool] = {}
        for batch in _batches(event_ids):
            rows = conn.execute(select(events.c.event_id, events.c.outlier).where(events.c.event_id.in_(batch)))
            found.update((row.event_id, bool(row.outlier)) for row in rows)
        return found

    def list_backward_extremities(self, conn: Connection, room_id: str, *, before: RoomPosition | None,
                                  limit: int, reached: RoomPosition | None = None) -> list[str]:
        """The room's backward extremities cited at or before ``before`` (open: all), deepest first:
        ``prev_events`` of its timeline events that this server holds without a state (unknown, or an outlier),
        so a backfill may bring them and what precedes them. Each ordered by the deepest event citing it;
        ``limit`` of them. ``reached``: only those cited by events at least as deep (a page of ``/messages`` that
        walked from ``before`` down to ``reached`` passed over them). Both bounds compare depths only, as
        Synapse's backfill points do: a client paging from a position is at that depth of the DAG, and an event
        of the same depth just after the position (the oldest of a ``/sync`` timeline) has its gap right there."""
        prev = events.alias("prev")
        citing = and_(events.c.room_id == room_id, events.c.outlier.is_(False), events.c.rejected_reason.is_(None))
        if before is not None:
            citing = and_(citing, events.c.depth <= before.depth)
        if reached is not None:
            citing = and_(citing, events.c.depth >= reached.depth)
        deepest = func.max(events.c.depth)
        rows = conn.execute(
            select(event_edges.c.prev_event_id, deepest)
            .select_from(events.join(event_edges, event_edges.c.event_id == events.c.event_id)
                         .outerjoin(prev, prev.c.event_id == event_edges.c.prev_event_id)
                         .outerjoin(event_state_groups, event_state_groups.c.event_id == event_edges.c.prev_event_id))
            .where(citing, event_state_groups.c.event_id.is_(None),
                   (prev.c.event_id.is_(None)) | (prev.c.outlier.is_(True)))
            .group_by(event_edges.c.prev_event_id)
            .order_by(deepest.desc(), event_edges.c.prev_event_id)
            .limit(limit))
        return [row.prev_event_id for row in rows]
