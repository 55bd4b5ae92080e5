"""Redactions and relations, recorded by the events writer as events are stored; read by the event read paths."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, or_, select

from persistence.stores.events import timeline_window
from persistence.tables import event_relations, events, redactions
from protocol.tokens import RoomPosition

THREAD = "m.thread"


@dataclass(frozen=True)
class ThreadRoot:
    """A thread (spec: "Threading"): its root, and its latest reply with where that sorts in the room."""

    root_id: str
    latest_event_id: str
    latest_depth: int
    latest_stream: int
    count: int


@dataclass(frozen=True)
class Relation:
    event_id: str
    relates_to_id: str
    relation_type: str
    aggregation_key: str | None


class RelationStore:
    def insert_redaction(self, conn: Connection, event_id: str, redacts: str, room_id: str) -> None:
        conn.execute(insert(redactions).values(event_id=event_id, redacts=redacts, room_id=room_id))

    def list_redactions_of(self, conn: Connection, event_ids: list[str]) -> dict[str, list[str]]:
        """target event id -> ids of the redaction events naming it (not yet judged valid)."""
        if not event_ids:
            return {}
        rows = conn.execute(select(redactions.c.redacts, redactions.c.event_id)
                            .where(redactions.c.redacts.in_(event_ids)))
        found: dict[str, list[str]] = {}
        for row in rows:
            found.setdefault(row.redacts, []).append(row.event_id)
        return found

    def insert_relation(self, conn: Connection, room_id: str, relation: Relation) -> None:
        conn.execute(insert(event_relations).values(room_id=room_id, **relation.__dict__))

    def get_thread_root(self, conn: Connection, event_id: str) -> str | None:
        """The root of the thread ``event_id`` replies in (its own ``m.thread`` relation), if any."""
        return conn.execute(select(event_relations.c.relates_to_id).where(
            event_relations.c.event_id == event_id, event_relations.c.relation_type == THREAD)).scalar_one_or_none()

    def list_children_ids(self, conn: Connection, parent_ids: Collection[str]) -> list[str]:
        """Ids of the events relating directly to any of ``parent_ids`` (of any relation type)."""
        if not parent_ids:
            return []
        rows = conn.execute(select(event_relations.c.event_id)
                            .where(event_relations.c.relates_to_id.in_(list(parent_ids))))
        return sorted(row.event_id for row in rows)

    def list_relations(self, conn: Connection, room_id: str, parent_ids: Collection[str], *,
                       relation_type: str | None, event_type: str | None, from_: RoomPosition | None,
                       to: RoomPosition | None, limit: int, backwards: bool) -> list[str]:
        """Ids of accepted events of ``room_id`` relating to one of ``parent_ids``, in topological order
        between two positions (``/relations``)."""
        query = (select(events.c.event_id)
                 .join(event_relations, event_relations.c.event_id == events.c.event_id)
                 .where(event_relations.c.relates_to_id.in_(list(parent_ids)), events.c.room_id == room_id,
                        events.c.rejected_reason.is_(None)))
        if relation_type is not None:
            query = query.where(event_relations.c.relation_type == relation_type)
        if event_type is not None:
            query = query.where(events.c.type == event_type)
        query = timeline_window(query, from_=from_, to=to, backwards=backwards).limit(limit)
        return [row.event_id for row in conn.execute(query)]

    def list_thread_roots(self, conn: Connection, room_id: str, *, participant: str | None,
                          from_: RoomPosition | None, limit: int) -> list[ThreadRoot]:
        """The threads of a room, latest reply latest first, starting at or before ``from_`` (``/threads``).

        A thread's latest reply is the last one this server stored (as Synapse keeps it). With ``participant``,
        only threads that user started or replied in (spec: "Server-side aggregation of m.thread relationships").
        """
        child, root = events.alias("child"), events.alias("root")
        threads = (select(event_relations.c.relates_to_id.label("root_id"),
                          func.max(child.c.stream_ordering).label("latest_stream"),
                          func.count().label("replies"))
                   .join(child, child.c.event_id == event_relations.c.event_id)
                   .where(event_relations.c.room_id == room_id, event_relations.c.relation_type == THREAD,
                          child.c.rejected_reason.is_(None))
                   .group_by(event_relations.c.relates_to_id).subquery())
        query = (select(threads.c.root_id, threads.c.replies, events.c.event_id, events.c.depth,
                        events.c.stream_ordering)
                 .join(events, events.c.stream_ordering == threads.c.latest_stream)
                 .join(root, root.c.event_id == threads.c.root_id)
                 .where(root.c.room_id == room_id, root.c.rejected_reason.is_(None)))
        if participant is not None:
            replied = (select(event_relations.c.relates_to_id)
                       .join(child, child.c.event_id == event_relations.c.event_id)
                       .where(event_relations.c.room_id == room_id, event_relations.c.relation_type == THREAD,
                              child.c.sender == participant))
            query = query.where(or_(root.c.sender == participant, threads.c.root_id.in_(replied)))
        query = timeline_window(query, from_=from_, to=None, backwards=True).limit(limit)
        return [ThreadRoot(row.root_id, row.event_id, int(row.depth), int(row.stream_ordering), int(row.replies))
                for row in conn.execute(query)]

    def list_threads_participated(self, conn: Connection, root_ids: Collection[str], user_id: str) -> set[str]:
        """Which of ``root_ids`` have a thread reply sent by ``user_id``."""
        if not root_ids:
            return set()
        rows = conn.execute(select(event_relations.c.relates_to_id)
                            .join(events, events.c.event_id == event_relations.c.event_id)
                            .where(event_relations.c.relates_to_id.in_(list(root_ids)),
                                   event_relations.c.relation_type == THREAD, events.c.sender == user_id))
        return {row.relates_to_id for row in rows}
