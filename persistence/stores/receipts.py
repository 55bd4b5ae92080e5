"""Receipts (Client-Server API, "Receipts"): the latest receipt per room, user, receipt type and thread.

Written only by the receipts stream writers; a row carries the stream position of its latest write, so ``/sync``
reads what changed in a range as the rows whose position lies in it. ``m.read.private`` rows are only ever read
back for their owner.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from sqlalchemy import Connection, func, or_, select

from persistence.stream_ranges import between
from persistence.tables import receipts
from persistence.upsert import upsert
from protocol.receipts import MAIN_THREAD, READ_PRIVATE, READ_RECEIPTS, UNTHREADED, Receipt
from protocol.sync_tokens import WriterPositions


def _receipt(row: object) -> Receipt:
    return Receipt(row.room_id, row.user_id, row.receipt_type, row.thread_id,  # type: ignore[attr-defined]
                   row.event_id, int(row.ts))  # type: ignore[attr-defined]


class ReceiptStore:
    def get_receipt_stream_ordering(self, conn: Connection, room_id: str, user_id: str, receipt_type: str,
                                    thread_id: str) -> int | None:
        """Where the event of the user's current receipt of this type and thread sorts (None: no receipt)."""
        found = conn.execute(select(receipts.c.event_stream_ordering).where(
            receipts.c.room_id == room_id, receipts.c.user_id == user_id, receipts.c.receipt_type == receipt_type,
            receipts.c.thread_id == thread_id)).scalar_one_or_none()
        return None if found is None else int(found)

    def upsert_receipt(self, conn: Connection, receipt: Receipt, event_stream_ordering: int, stream_id: int,
                       instance_name: str) -> None:
        upsert(conn, receipts, {"room_id": receipt.room_id, "user_id": receipt.user_id,
                                "receipt_type": receipt.receipt_type, "thread_id": receipt.thread_id},
               {"event_id": receipt.event_id, "event_stream_ordering": event_stream_ordering, "ts": receipt.ts,
                "stream_id": stream_id, "instance_name": instance_name})

    def list_receipts(self, conn: Connection, room_ids: Collection[str], viewer: str,
                      since: WriterPositions | None, until: WriterPositions) -> list[Receipt]:
        """Receipts in ``room_ids`` written after ``since`` (all when None) and at or before ``until``, as
        ``viewer`` may see them (their own private receipts, nobody else's), in stream order."""
        if not room_ids:
            return []
        rows = conn.execute(select(receipts).where(
            receipts.c.room_id.in_(sorted(room_ids)),
            or_(receipts.c.receipt_type != READ_PRIVATE, receipts.c.user_id == viewer),
            between(receipts.c.instance_name, receipts.c.stream_id, since, until))
            .order_by(receipts.c.stream_id))
        return [_receipt(row) for row in rows]

    def list_read_positions(self, conn: Connection, user_id: str, room_ids: Iterable[str]) -> dict[str, int]:
        """:meth:`get_read_position` for many rooms in one query (rooms with no receipt are left out)."""
        wanted = sorted(set(room_ids))
        if not wanted:
            return {}
        rows = conn.execute(select(receipts.c.room_id, func.max(receipts.c.event_stream_ordering)).where(
            receipts.c.user_id == user_id, receipts.c.room_id.in_(wanted),
            receipts.c.receipt_type.in_(READ_RECEIPTS), receipts.c.thread_id.in_((UNTHREADED, MAIN_THREAD)))
            .group_by(receipts.c.room_id))
        return {row[0]: int(row[1]) for row in rows}

    def get_read_position(self, conn: Connection, user_id: str, room_id: str) -> int | None:
        """How far the user has read the room: the highest ``events.stream_ordering`` among their unthreaded and
        main-timeline ``m.read`` and ``m.read.private`` receipts there (None: no such receipt). Between the public
        and the private receipt the one further ahead counts (spec: "Private read receipts")."""
        found = conn.execute(select(func.max(receipts.c.event_stream_ordering)).where(
            receipts.c.room_id == room_id, receipts.c.user_id == user_id,
            receipts.c.receipt_type.in_(READ_RECEIPTS),
            receipts.c.thread_id.in_((UNTHREADED, MAIN_THREAD)))).scalar_one_or_none()
        return None if found is None else int(found)

    def list_receipts_between(self, conn: Connection, since: WriterPositions, until: WriterPositions,
                              limit: int) -> list[tuple[int, Receipt]]:
        """Up to ``limit`` public receipts of every room written in the range, with their stream ids, in stream
        order (application services follow the whole stream; private receipts are their owner's alone)."""
        rows = conn.execute(select(receipts).where(
            receipts.c.receipt_type != READ_PRIVATE,
            between(receipts.c.instance_name, receipts.c.stream_id, since, until))
            .order_by(receipts.c.stream_id).limit(limit))
        return [(int(row.stream_id), _receipt(row)) for row in rows]
