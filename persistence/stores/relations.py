"""Redactions and relations, recorded by the events writer as events are stored; read by the event read paths.

A child event counts towards its parent's relations (threads, edits, references) while it is accepted and no
accepted redaction in its room names it: Synapse drops a child's relation as soon as a redaction of it is
stored, so a redacted reply, edit or reference stops counting; the same rule is applied here at read time.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, FromClause, Select, and_, func, insert, or_, select

from persistence.stores.events import timeline_window
from persistence.tables import event_relations, events, redactions
from protocol.tokens import RoomPosition

THREAD = "m.thread"
REPLACE = "m.replace"
REFERENCE = "m.reference"
ANNOTATION = "m.annotation"


@dataclass(frozen=True)
class ThreadSummary:
    """What the ``m.thread`` bundled aggregation of a root is made of (the reader's participation apart)."""

    latest_event_id: str
    count: int


def counted_child(child: FromClause) -> ColumnElement[bool]:
    """``child`` (an alias of ``events``) is accepted and no accepted redaction in its room names it."""
    redaction = events.alias("redaction_event")
    redacted = (select(redactions.c.event_id)
                .join(redaction, redaction.c.event_id == redactions.c.event_id)
                .where(redactions.c.redacts == child.c.event_id, redactions.c.room_id == child.c.room_id,
                       redaction.c.rejected_reason.is_(None)))
    return and_(child.c.rejected_reason.is_(None), ~redacted.exists())


def _children_in_room(relation_type: str, parent_ids: Sequence[str]) -> tuple[Select[Any], FromClause, FromClause]:
    """A query over the counted children of ``parent_ids`` of one relation type, each in its parent's room;
    with the ``child`` and ``parent`` aliases, for the caller to select from and narrow."""
    child, parent = events.alias("child"), events.alias("parent")
    query = (select()
             .select_from(event_relations)
             .join(child, child.c.event_id == event_relations.c.event_id)
             .join(parent, and_(parent.c.event_id == event_relations.c.relates_to_id,
                                parent.c.room_id == child.c.room_id))
             .where(event_relations.c.relates_to_id.in_(list(parent_ids)),
                    event_relations.c.relation_type == relation_type, counted_child(child)))
    return query, child, parent


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
    def list_parents_with_children(self, conn: Connection, event_ids: Sequence[str]) -> set[str]:
        """Which of ``event_ids`` any event relates to (of any relation type, redacted or not)."""
        if not event_ids:
            return set()
        rows = conn.execute(select(event_relations.c.relates_to_id).distinct()
                            .where(event_relations.c.relates_to_id.in_(list(event_ids))))
        return {row.relates_to_id for row in rows}

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

    def has_annotation(self, conn: Connection, parent_id: str, *, sender: str, event_type: str, key: str) -> bool:
        """Whether ``sender`` has a counted (accepted, unredacted) ``m.annotation`` of ``parent_id`` with this event
        type and key."""
        query, child, _ = _children_in_room(ANNOTATION, [parent_id])
        query = query.add_columns(child.c.event_id).where(
            event_relations.c.aggregation_key == key, child.c.sender == sender, child.c.type == event_type)
        return conn.execute(query.limit(1)).first() is not None

    def get_parent(self, conn: Connection, event_id: str) -> tuple[str, str] | None:
        """``(relates_to_id, relation_type)`` of the event's relation, or None."""
        row = conn.execute(select(event_relations.c.relates_to_id, event_relations.c.relation_type)
                           .where(event_relations.c.event_id == event_id)).first()
        return (row.relates_to_id, row.relation_type) if row else None

    def has_thread_replies(self, conn: Connection, event_id: str) -> bool:
        found = conn.execute(select(event_relations.c.event_id).where(
            event_relations.c.relates_to_id == event_id, event_relations.c.relation_type == THREAD).limit(1)).first()
        return found is not None

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
                          counted_child(child))
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
        """Which of ``root_ids`` have a counted thread reply sent by ``user_id``."""
        if not root_ids:
            return set()
        query, child, _ = _children_in_room(THREAD, list(root_ids))
        rows = conn.execute(query.add_columns(event_relations.c.relates_to_id).where(child.c.sender == user_id))
        return {row.relates_to_id for row in rows}

    def list_thread_summaries(self, conn: Connection, root_ids: Collection[str]) -> dict[str, ThreadSummary]:
        """root id -> its thread's latest counted reply (the last stored, as for ``/threads``) and reply count,
        for the roots that have any; one query."""
        if not root_ids:
            return {}
        query, child, _ = _children_in_room(THREAD, list(root_ids))
        threads = (query.add_columns(event_relations.c.relates_to_id.label("root_id"),
                                     func.max(child.c.stream_ordering).label("latest_stream"),
                                     func.count().label("replies"))
                   .group_by(event_relations.c.relates_to_id).subquery())
        rows = conn.execute(select(threads.c.root_id, threads.c.replies, events.c.event_id)
                            .join(events, events.c.stream_ordering == threads.c.latest_stream))
        return {row.root_id: ThreadSummary(row.event_id, int(row.replies)) for row in rows}

    def list_replacement_candidates(self, conn: Connection, parent_ids: Collection[str]) -> dict[str, list[str]]:
        """parent id -> ids of its counted ``m.replace`` children sent by the parent's sender, of the parent's type,
        in its room and not state; which one applies is ``protocol.edits``' to decide. One query."""
        if not parent_ids:
            return {}
        query, child, parent = _children_in_room(REPLACE, list(parent_ids))
        rows = conn.execute(query.add_columns(event_relations.c.relates_to_id, child.c.event_id)
                            .where(child.c.sender == parent.c.sender, child.c.type == parent.c.type,
                                   child.c.state_key.is_(None)))
        found: dict[str, list[str]] = {}
        for row in rows:
            found.setdefault(row.relates_to_id, []).append(row.event_id)
        return found

    def list_references(self, conn: Connection, parent_ids: Collection[str]) -> dict[str, list[str]]:
        """parent id -> ids of its counted ``m.reference`` children in topological order; one query."""
        if not parent_ids:
            return {}
        query, child, _ = _children_in_room(REFERENCE, list(parent_ids))
        rows = conn.execute(query.add_columns(event_relations.c.relates_to_id, child.c.event_id)
                            .order_by(child.c.depth, child.c.stream_ordering))
        found: dict[str, list[str]] = {}
        for row in rows:
            found.setdefault(row.relates_to_id, []).append(row.event_id)
        return found
