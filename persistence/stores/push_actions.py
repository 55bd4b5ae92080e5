"""Push actions: what the events writer's push rule evaluation decided per local recipient and event, kept only
where it notifies or highlights; ``/sync`` counts a user's unread notifications from them.

Written by the events writers, in the event's own transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, delete, func, insert, or_, select

from persistence.stream_ranges import between, up_to
from persistence.tables import event_push_actions, receipts
from protocol.receipts import MAIN_THREAD, READ_RECEIPTS, UNTHREADED
from protocol.sync_tokens import WriterPositions

ROOMS_PER_QUERY = 200
"""Rooms whose counts one query reads: each room is one clause of an OR, and SQLite bounds expression depth."""


@dataclass(frozen=True)
class PushAction:
    user_id: str
    notify: bool
    highlight: bool
    actions: tuple[Any, ...]


@dataclass(frozen=True)
class Notification:
    """One push action row as ``GET /notifications`` lists it."""

    event_id: str
    room_id: str
    stream_ordering: int
    highlight: bool
    actions: list[Any]


@dataclass(frozen=True)
class PendingPush:
    """A push action a pusher has yet to send: its event, where it sits in the events stream, and its actions."""

    event_id: str
    room_id: str
    instance_name: str
    stream_ordering: int
    actions: tuple[Any, ...]


@dataclass(frozen=True)
class UnreadCounts:
    """Unread notifications (spec: /sync ``unread_notifications``): those that notify, those that highlight."""

    notification_count: int = 0
    highlight_count: int = 0

    def to_client(self) -> dict[str, int]:
        return {"notification_count": self.notification_count, "highlight_count": self.highlight_count}


def _batches(after: Mapping[str, int | None]) -> Iterator[list[tuple[str, int | None]]]:
    items = sorted(after.items())
    for start in range(0, len(items), ROOMS_PER_QUERY):
        yield items[start:start + ROOMS_PER_QUERY]


def _unread(batch: list[tuple[str, int | None]]) -> ColumnElement[bool]:
    """Rows of these rooms above each room's read position (every row of a room read nowhere yet)."""
    table = event_push_actions.c
    unread_anywhere = [room_id for room_id, position in batch if position is None]
    clauses = [and_(table.room_id == room_id, table.stream_ordering > position)
               for room_id, position in batch if position is not None]
    if unread_anywhere:
        clauses.append(table.room_id.in_(unread_anywhere))
    return or_(*clauses)


_SUMS = (func.sum(case((event_push_actions.c.notify, 1), else_=0)),
         func.sum(case((event_push_actions.c.highlight, 1), else_=0)))
"""Notifications and highlights of a group of rows (built once)."""


class PushActionsStore:
    def delete_read_actions(self, conn: Connection) -> int:
        """Drop the rows at or before each user's main read receipt in their room: counts only look above it,
        so they can never matter again (a housekeeping job; the table would otherwise only grow)."""
        read_up_to = (select(func.max(receipts.c.event_stream_ordering))
                      .where(receipts.c.user_id == event_push_actions.c.user_id,
                             receipts.c.room_id == event_push_actions.c.room_id,
                             receipts.c.receipt_type.in_(READ_RECEIPTS),
                             receipts.c.thread_id.in_((UNTHREADED, MAIN_THREAD)))
                      .scalar_subquery())
        return int(conn.execute(delete(event_push_actions)
                                .where(event_push_actions.c.stream_ordering <= read_up_to)).rowcount)

    def insert_push_actions(self, conn: Connection, *, event_id: str, room_id: str, stream_ordering: int,
                            instance_name: str, thread_id: str, actions: Sequence[PushAction]) -> None:
        """One event's rows, in one multi-row insert."""
        if not actions:
            return
        encoded: dict[int, str] = {}  # most recipients share a few rules' actions: encode each once
        rows = []
        for action in actions:
            text = encoded.get(id(action.actions))
            if text is None:
                text = encoded[id(action.actions)] = json.dumps(list(action.actions), separators=(",", ":"))
            rows.append({"user_id": action.user_id, "event_id": event_id, "room_id": room_id,
                         "stream_ordering": stream_ordering, "instance_name": instance_name, "thread_id": thread_id,
                         "notify": action.notify, "highlight": action.highlight, "actions": text})
        conn.execute(insert(event_push_actions), rows)

    def list_notifications(self, conn: Connection, user_id: str, *, before: int | None, limit: int,
                           highlight_only: bool) -> list[Notification]:
        """The user's notifying rows, newest first, below stream ordering ``before`` (from the newest when None).
        Rows at or before a read receipt may already be gone (:meth:`delete_read_actions`)."""
        table = event_push_actions.c
        query = select(table.event_id, table.room_id, table.stream_ordering, table.highlight, table.actions).where(
            table.user_id == user_id)
        if before is not None:
            query = query.where(table.stream_ordering < before)
        if highlight_only:
            query = query.where(table.highlight)
        rows = conn.execute(query.order_by(table.stream_ordering.desc()).limit(limit))
        return [Notification(row.event_id, row.room_id, int(row.stream_ordering), bool(row.highlight),
                             json.loads(row.actions)) for row in rows]

    def count_unread(self, conn: Connection, user_id: str, after_stream_ordering: Mapping[str, int | None],
                     until: WriterPositions) -> dict[str, UnreadCounts]:
        """room id -> the user's unread counts there: rows after the room's ``after_stream_ordering`` (all of
        them when None) and at or before ``until``. One query per ``ROOMS_PER_QUERY`` rooms."""
        by_thread = self.count_unread_by_thread(conn, user_id, after_stream_ordering, until)
        return {room_id: UnreadCounts(sum(c.notification_count for c in threads.values()),
                                      sum(c.highlight_count for c in threads.values()))
                for room_id, threads in by_thread.items()}

    def count_unread_by_thread(self, conn: Connection, user_id: str,
                               after_stream_ordering: Mapping[str, int | None],
                               until: WriterPositions) -> dict[str, dict[str, UnreadCounts]]:
        """room id -> thread id ("main" for the main timeline) -> unread counts, as :meth:`count_unread` counts
        them. Rooms and threads without any unread row are left out."""
        table = event_push_actions.c
        found: dict[str, dict[str, UnreadCounts]] = {}
        for batch in _batches(after_stream_ordering):
            rows = conn.execute(
                select(table.room_id, table.thread_id, *_SUMS)
                .where(table.user_id == user_id, _unread(batch),
                       up_to(table.instance_name, table.stream_ordering, until))
                .group_by(table.room_id, table.thread_id))
            for room_id, thread_id, notifications, highlights in rows:
                found.setdefault(room_id, {})[thread_id] = UnreadCounts(int(notifications), int(highlights))
        return found

    def list_pending(self, conn: Connection, user_id: str, since: WriterPositions, until: WriterPositions,
                     limit: int) -> list[PendingPush]:
        """The user's notifying push actions written after ``since`` and at or before ``until`` (a pusher's
        progress and the events stream's committed positions), in stream order."""
        table = event_push_actions.c
        rows = conn.execute(
            select(table.event_id, table.room_id, table.instance_name, table.stream_ordering, table.actions)
            .where(table.user_id == user_id, table.notify.is_(True),
                   between(table.instance_name, table.stream_ordering, since, until))
            .order_by(table.stream_ordering, table.instance_name).limit(limit))
        return [PendingPush(row.event_id, row.room_id, row.instance_name, int(row.stream_ordering),
                            tuple(json.loads(row.actions))) for row in rows]

    def list_rooms_with_actions(self, conn: Connection, user_id: str) -> list[str]:
        """Rooms where the user has any push action left (where a badge count can be non-zero)."""
        rows = conn.execute(select(event_push_actions.c.room_id).distinct()
                            .where(event_push_actions.c.user_id == user_id))
        return sorted(row.room_id for row in rows)
