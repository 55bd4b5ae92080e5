"""What each destination server is owed and how it last answered (``persistence/tables/federation_sending.py``).

Every read-modify-write of a destination's rows starts with :meth:`FederationSendingStore.lock_destination` (or
:meth:`~FederationSendingStore.lock_destinations` for a fan-out's many), which creates the destination's row if needed
and holds it (``FOR UPDATE`` on PostgreSQL; SQLite serialises writers) until the transaction ends: the fan-out and the
one sender of a destination never interleave. A fan-out writes all its destinations' rows with a few multi-row
statements, not a few per destination: its cost is the hot path of every event in a room with many servers.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from persistence.tables import (
    current_state_events,
    federation_destination_rooms,
    federation_destinations,
    federation_outbound_queue,
    federation_transactions,
)

PDU = "pdu"
EDU = "edu"
BATCH = 1000
"""Rows (or destinations) per multi-row statement: well under SQLite's limit of 32,766 bound parameters."""


def _batches(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), BATCH):
        yield items[start:start + BATCH]


@dataclass(frozen=True)
class DestinationState:
    destination: str
    retry_at_ts: int | None
    retry_interval_ms: int
    failures: int
    claimed_until_ts: int | None
    catching_up: bool
    next_txn: int

    def backing_off(self, now_ms: int) -> bool:
        return self.retry_at_ts is not None and self.retry_at_ts > now_ms


@dataclass(frozen=True)
class QueuedItem:
    id: int
    kind: str
    room_id: str | None
    event_id: str | None
    edu: dict[str, Any] | None


@dataclass(frozen=True)
class InFlight:
    """A transaction fixed for a destination: sent again as it is until the destination acknowledges it."""

    txn_id: str
    body: dict[str, Any]
    queue_ids: tuple[int, ...]
    catch_up: tuple[tuple[str, int], ...]
    """(room id, stream ordering) of the catch-up PDUs in it."""


@dataclass(frozen=True)
class CatchUpRoom:
    room_id: str
    event_id: str
    stream_ordering: int


class FederationSendingStore:
    def lock_destination(self, conn: Connection, destination: str) -> DestinationState:
        return self.lock_destinations(conn, [destination])[destination]

    def lock_destinations(self, conn: Connection, destinations: Collection[str]) -> dict[str, DestinationState]:
        """Create and lock the rows of ``destinations``, in sorted order (two fan-outs locking overlapping sets
        cannot deadlock), with one insert and one select per :data:`BATCH`, whatever their number."""
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        t = federation_destinations
        states: dict[str, DestinationState] = {}
        for batch in _batches(sorted(set(destinations))):
            conn.execute(dialect.insert(t).values([{"destination": name, "catching_up": False} for name in batch])
                         .on_conflict_do_nothing(index_elements=["destination"]))
            rows = conn.execute(select(t).where(t.c.destination.in_(list(batch)))
                                .order_by(t.c.destination).with_for_update())
            for row in rows:
                states[row.destination] = DestinationState(row.destination, row.retry_at_ts, row.retry_interval_ms,
                                                           row.failures, row.claimed_until_ts, bool(row.catching_up),
                                                           row.next_txn)
        return states

    def get_destination(self, conn: Connection, destination: str) -> DestinationState | None:
        t = federation_destinations
        row = conn.execute(select(t).where(t.c.destination == destination)).one_or_none()
        if row is None:
            return None
        return DestinationState(row.destination, row.retry_at_ts, row.retry_interval_ms, row.failures,
                                row.claimed_until_ts, bool(row.catching_up), row.next_txn)

    def update_destination(self, conn: Connection, destination: str, **values: Any) -> None:
        t = federation_destinations
        conn.execute(update(t).where(t.c.destination == destination).values(**values))

    def insert_pdus(self, conn: Connection, rows: Sequence[tuple[str, str, str]], now_ms: int) -> None:
        """Queue PDUs, (destination, room id, event id) each, in the order given (their ids keep it)."""
        for batch in _batches(rows):
            conn.execute(insert(federation_outbound_queue).values([
                {"destination": destination, "kind": PDU, "room_id": room_id, "event_id": event_id,
                 "queued_ts": now_ms} for destination, room_id, event_id in batch]))

    def insert_edu(self, conn: Connection, destination: str, edu: dict[str, Any], coalesce_key: str | None,
                   now_ms: int) -> None:
        """Queue an EDU; one waiting under the same ``coalesce_key`` is replaced (it says less than this one)."""
        t = federation_outbound_queue
        if coalesce_key is not None:
            conn.execute(delete(t).where(t.c.destination == destination, t.c.coalesce_key == coalesce_key))
        conn.execute(insert(t).values(destination=destination, kind=EDU, edu_json=json.dumps(edu),
                                      coalesce_key=coalesce_key, queued_ts=now_ms))

    def list_queued(self, conn: Connection, destination: str, kind: str, limit: int) -> list[QueuedItem]:
        t = federation_outbound_queue
        rows = conn.execute(select(t).where(t.c.destination == destination, t.c.kind == kind)
                            .order_by(t.c.id).limit(limit))
        return [QueuedItem(row.id, row.kind, row.room_id, row.event_id,
                           json.loads(row.edu_json) if row.edu_json is not None else None) for row in rows]

    def delete_queued(self, conn: Connection, ids: Collection[int]) -> None:
        if ids:
            t = federation_outbound_queue
            conn.execute(delete(t).where(t.c.id.in_(list(ids))))

    def delete_pdus_except(self, conn: Connection, destination: str, keep: Collection[int]) -> set[str]:
        """Drop the destination's queued PDUs (but ``keep``); answers the rooms they were in."""
        t = federation_outbound_queue
        condition = and_(t.c.destination == destination, t.c.kind == PDU, t.c.id.not_in(list(keep)))
        rooms = {row.room_id for row in conn.execute(select(t.c.room_id).where(condition).distinct())}
        conn.execute(delete(t).where(condition))
        return rooms

    def delete_edus_of_types(self, conn: Connection, destination: str, edu_types: Iterable[str],
                             keep: Collection[int]) -> None:
        t = federation_outbound_queue
        rows = conn.execute(select(t.c.id, t.c.edu_json).where(t.c.destination == destination, t.c.kind == EDU,
                                                              t.c.id.not_in(list(keep))))
        wanted = set(edu_types)
        self.delete_queued(conn, [row.id for row in rows if json.loads(row.edu_json).get("edu_type") in wanted])

    def get_transaction(self, conn: Connection, destination: str) -> InFlight | None:
        t = federation_transactions
        row = conn.execute(select(t).where(t.c.destination == destination)).one_or_none()
        if row is None:
            return None
        return InFlight(row.txn_id, json.loads(row.body), tuple(json.loads(row.queue_ids)),
                        tuple((room, ordering) for room, ordering in json.loads(row.catch_up)))

    def insert_transaction(self, conn: Connection, destination: str, txn: InFlight, now_ms: int) -> None:
        conn.execute(insert(federation_transactions).values(
            destination=destination, txn_id=txn.txn_id, body=json.dumps(txn.body), queue_ids=json.dumps(txn.queue_ids),
            catch_up=json.dumps(txn.catch_up), created_ts=now_ms))

    def delete_transaction(self, conn: Connection, destination: str) -> None:
        t = federation_transactions
        conn.execute(delete(t).where(t.c.destination == destination))

    def upsert_destination_rooms(self, conn: Connection, rows: Sequence[tuple[str, str, str, int, bool]]) -> None:
        """The latest local event each destination is due in a room: (destination, room id, event id, stream
        ordering, needs catch-up), one row per destination and room. Needs catch-up only ever sets the flag
        (clearing is :meth:`clear_catch_up`'s)."""
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        t = federation_destination_rooms
        for batch in _batches(rows):
            statement = dialect.insert(t).values([
                {"destination": destination, "room_id": room_id, "event_id": event_id,
                 "stream_ordering": ordering, "needs_catch_up": needs_catch_up}
                for destination, room_id, event_id, ordering, needs_catch_up in batch])
            excluded = statement.excluded
            conn.execute(statement.on_conflict_do_update(
                index_elements=["destination", "room_id"],
                set_={"event_id": excluded.event_id, "stream_ordering": excluded.stream_ordering,
                      "needs_catch_up": or_(t.c.needs_catch_up, excluded.needs_catch_up)}))

    def mark_catch_up(self, conn: Connection, destination: str, room_ids: Collection[str]) -> None:
        if room_ids:
            t = federation_destination_rooms
            conn.execute(update(t).where(t.c.destination == destination, t.c.room_id.in_(list(room_ids)))
                         .values(needs_catch_up=True))

    def list_catch_up_rooms(self, conn: Connection, destination: str, limit: int) -> list[CatchUpRoom]:
        t = federation_destination_rooms
        rows = conn.execute(select(t.c.room_id, t.c.event_id, t.c.stream_ordering)
                            .where(t.c.destination == destination, t.c.needs_catch_up.is_(True))
                            .order_by(t.c.stream_ordering).limit(limit))
        return [CatchUpRoom(row.room_id, row.event_id, row.stream_ordering) for row in rows]

    def clear_catch_up(self, conn: Connection, destination: str, rooms: Iterable[tuple[str, int]]) -> None:
        """The destination has the room's events up to this stream ordering; a later one keeps the flag."""
        t = federation_destination_rooms
        for room_id, ordering in rooms:
            conn.execute(update(t).where(t.c.destination == destination, t.c.room_id == room_id,
                                         t.c.stream_ordering <= ordering).values(needs_catch_up=False))

    def has_remote_members(self, conn: Connection, room_id: str, server_name: str) -> bool:
        """Whether anyone of another server is joined to the room: one indexed probe, where listing the members
        of a large room for every event would not be."""
        t = current_state_events
        found = conn.execute(select(t.c.state_key).where(
            t.c.room_id == room_id, t.c.type == "m.room.member", t.c.membership == "join",
            ~t.c.state_key.endswith(":" + server_name, autoescape=True)).limit(1)).first()
        return found is not None

    def list_due_destinations(self, conn: Connection, now_ms: int, limit: int) -> list[str]:
        """Destinations with something to send, not backing off, and not held by a live sender."""
        d, q, tx, r = (federation_destinations, federation_outbound_queue, federation_transactions,
                       federation_destination_rooms)
        has_work = or_(
            exists().where(q.c.destination == d.c.destination),
            exists().where(tx.c.destination == d.c.destination),
            and_(d.c.catching_up.is_(True),
                 exists().where(r.c.destination == d.c.destination, r.c.needs_catch_up.is_(True))),
        )
        rows = conn.execute(select(d.c.destination).where(
            or_(d.c.retry_at_ts.is_(None), d.c.retry_at_ts <= now_ms),
            or_(d.c.claimed_until_ts.is_(None), d.c.claimed_until_ts <= now_ms),
            has_work).order_by(d.c.destination).limit(limit))
        return [row.destination for row in rows]
