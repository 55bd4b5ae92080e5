"""Events and the room DAG: rows, edges, forward extremities and client transaction ids.

Only the events stream writers call the insert methods; everyone reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, delete, func, insert, select, tuple_, union_all, update

from persistence.locks import lock_backfill_orderings
from persistence.stores.room_lists import record_bump
from persistence.stream_ranges import between, up_to
from persistence.tables import (
    current_state_events,
    event_auth,
    event_edges,
    event_forward_extremities,
    event_txn_ids,
    events,
    rooms,
)
from protocol.canonical_json import encode_canonical_json
from protocol.events.model import Event
from protocol.room_versions import KNOWN_ROOM_VERSIONS
from protocol.sync_tokens import WriterPositions
from protocol.tokens import START, RoomPosition

ROOMS_PER_QUERY = 100
"""Rooms per statement in the many-room reads of /sync (one ``UNION ALL`` branch each; SQLite allows 500)."""


@dataclass(frozen=True)
class StoredEvent:
    event: Event
    room_id: str
    """Stored apart from the PDU: v12 create events carry no room id."""
    stream_ordering: int
    rejected_reason: str | None
    replaces_state: str | None = None
    """The state event this one replaced (``unsigned.replaces_state`` / ``prev_content``)."""

    @property
    def event_id(self) -> str:
        return self.event.event_id


def _load(row: object) -> StoredEvent:
    room_version = KNOWN_ROOM_VERSIONS[row.room_version]  # type: ignore[attr-defined]
    pdu = json.loads(row.json)  # type: ignore[attr-defined]
    event = Event(row.event_id, room_version, pdu)  # type: ignore[attr-defined]
    return StoredEvent(event, row.room_id, int(row.stream_ordering), row.rejected_reason,  # type: ignore[attr-defined]
                       row.replaces_state)  # type: ignore[attr-defined]


_ACCEPTED = (events.c.rejected_reason.is_(None), events.c.outlier.is_(False))
"""Events in the room's timeline: neither rejected nor outliers (built once; clauses are immutable)."""
_COLUMNS = (events.c.event_id, events.c.room_id, events.c.json, events.c.stream_ordering, events.c.rejected_reason,
            events.c.replaces_state, rooms.c.room_version)


def topological_key(stored: StoredEvent) -> tuple[int, int]:
    """Where an event sorts in its room's timeline: (depth, stream_ordering), as /messages orders it."""
    return stored.event.depth, stored.stream_ordering


def after_position(position: RoomPosition) -> ColumnElement[bool]:
    """Events ordered strictly after the gap ``position`` (the ``(depth, stream_ordering)`` index serves it)."""
    return tuple_(events.c.depth, events.c.stream_ordering) > tuple_(position.depth, position.stream)


def timeline_window(query: Select[Any], *, from_: RoomPosition | None, to: RoomPosition | None,
                    backwards: bool) -> Select[Any]:
    """Narrow ``query`` (over ``events``) to the events met walking from ``from_`` towards ``to``, in that order.

    Backwards: events at or before ``from_`` and after ``to``, latest first; forwards: events after ``from_``
    and at or before ``to``, earliest first (spec: "Pagination"). ``None`` leaves that end open.
    """
    lower, upper = (to, from_) if backwards else (from_, to)
    if lower is not None:
        query = query.where(after_position(lower))
    if upper is not None:
        query = query.where(~after_position(upper))
    key = (events.c.depth, events.c.stream_ordering)
    return query.order_by(*(column.desc() for column in key) if backwards else key)


class EventStore:
    def insert_event(self, conn: Connection, event: Event, room_id: str, stream_ordering: int,
                     instance_name: str, rejected_reason: str | None = None,
                     replaces_state: str | None = None, outlier: bool = False) -> None:
        """Store an event with its DAG edges. ``outlier``: kept out of the room's timeline (an event known only
        as another's auth or state, or a remote event that soft-failed; ``tasks/federation/remote_events.py``)."""
        conn.execute(insert(events).values(
            event_id=event.event_id, room_id=room_id, stream_ordering=stream_ordering, depth=event.depth,
            type=event.type, state_key=event.state_key, sender=event.sender,
            origin_server_ts=event.origin_server_ts, instance_name=instance_name,
            json=encode_canonical_json(dict(event.pdu)).decode("utf-8"), rejected_reason=rejected_reason,
            outlier=outlier, replaces_state=replaces_state,
        ))
        if rejected_reason is None and not outlier:
            record_bump(conn, room_id, event.type, stream_ordering, instance_name)
        if event.prev_event_ids:
            conn.execute(insert(event_edges), [
                {"event_id": event.event_id, "prev_event_id": prev} for prev in dict.fromkeys(event.prev_event_ids)])
        if event.auth_event_ids:
            conn.execute(insert(event_auth), [
                {"event_id": event.event_id, "auth_event_id": auth} for auth in dict.fromkeys(event.auth_event_ids)])

    def update_outlier(self, conn: Connection, event_id: str) -> None:
        """Take an event out of its room's timeline: an out-of-band membership (an invite to a room this server
        is not in) once a newer membership of the same user supersedes it."""
        conn.execute(update(events).where(events.c.event_id == event_id).values(outlier=True))

    def replace_event_json(self, conn: Connection, event_id: str, pdu: Mapping[str, Any]) -> None:
        """Overwrite a stored event with its pruned form (an expired self-destructing event): its id, hashes and
        signatures stand, as after a redaction, but what it said is gone from the database."""
        conn.execute(update(events).where(events.c.event_id == event_id).values(
            json=encode_canonical_json(dict(pdu)).decode("utf-8")))

    def allocate_backfill_orderings(self, conn: Connection, count: int) -> list[int]:
        """``count`` increasing stream orderings for events backfilled from another server, all below every
        stored one and negative: a batch of history, given them oldest first, sorts in stream order as in time,
        before the earlier batches' (newer) history and every live event, and no ``/sync`` token's range (which
        starts at 0) ever holds them. Taken under :func:`~persistence.locks.lock_backfill_orderings` (the unique
        index answers the minimum)."""
        lock_backfill_orderings(conn)
        lowest = min(int(conn.execute(select(func.min(events.c.stream_ordering))).scalar_one_or_none() or 0), 0)
        return list(range(lowest - count, lowest))

    def promote_outlier(self, conn: Connection, event_id: str, stream_ordering: int, *,
                        replaces_state: str | None) -> None:
        """Put an outlier (an event known as another's state or auth, e.g. from ``send_join``) into its room's
        timeline at ``stream_ordering``, once backfilling has reached it and judged it against the state before
        it."""
        conn.execute(update(events).where(events.c.event_id == event_id)
                     .values(outlier=False, stream_ordering=stream_ordering, replaces_state=replaces_state))
        row = conn.execute(select(events.c.room_id, events.c.type, events.c.instance_name)
                           .where(events.c.event_id == event_id, events.c.rejected_reason.is_(None))).first()
        if row is not None:
            record_bump(conn, row.room_id, row.type, stream_ordering, row.instance_name)

    def get_event(self, conn: Connection, event_id: str) -> StoredEvent | None:
        row = conn.execute(
            select(*_COLUMNS).join(rooms, rooms.c.room_id == events.c.room_id).where(events.c.event_id == event_id)
        ).first()
        return _load(row) if row else None

    def get_events(self, conn: Connection, event_ids: Iterable[str]) -> dict[str, StoredEvent]:
        wanted = list(dict.fromkeys(event_ids))
        if not wanted:
            return {}
        rows = conn.execute(
            select(*_COLUMNS).join(rooms, rooms.c.room_id == events.c.room_id).where(events.c.event_id.in_(wanted))
        )
        return {row.event_id: _load(row) for row in rows}

    def list_forward_extremities(self, conn: Connection, room_id: str) -> list[str]:
        rows = conn.execute(
            select(event_forward_extremities.c.event_id).where(event_forward_extremities.c.room_id == room_id)
        )
        return sorted(row.event_id for row in rows)

    def replace_forward_extremities(self, conn: Connection, room_id: str, removed: Iterable[str], added: str) -> None:
        removed = list(removed)
        if removed:
            conn.execute(delete(event_forward_extremities).where(
                event_forward_extremities.c.room_id == room_id, event_forward_extremities.c.event_id.in_(removed)))
        conn.execute(insert(event_forward_extremities).values(room_id=room_id, event_id=added))

    def get_txn_event_id(self, conn: Connection, user_id: str, device_id: str, room_id: str,
                         txn_id: str) -> str | None:
        return conn.execute(select(event_txn_ids.c.event_id).where(
            event_txn_ids.c.user_id == user_id, event_txn_ids.c.device_id == device_id,
            event_txn_ids.c.room_id == room_id, event_txn_ids.c.txn_id == txn_id,
        )).scalar_one_or_none()

    def insert_txn_event_id(self, conn: Connection, user_id: str, device_id: str, room_id: str, txn_id: str,
                            event_id: str, now_ms: int) -> None:
        conn.execute(insert(event_txn_ids).values(user_id=user_id, device_id=device_id, room_id=room_id,
                                                  txn_id=txn_id, event_id=event_id, created_ts=now_ms))

    def delete_txn_ids_before(self, conn: Connection, before_ms: int) -> int:
        """Forget client transaction ids older than ``before_ms``: a client retries a send for minutes, not days."""
        return conn.execute(delete(event_txn_ids).where(event_txn_ids.c.created_ts < before_ms)).rowcount or 0

    def list_room_events(self, conn: Connection, room_id: str, *, before: int | None = None,
                         after: int | None = None, limit: int, backwards: bool) -> list[StoredEvent]:
        """Accepted events of a room in stream order, strictly between the given stream positions."""
        query = (select(*_COLUMNS).join(rooms, rooms.c.room_id == events.c.room_id)
                 .where(events.c.room_id == room_id, events.c.rejected_reason.is_(None)))
        if before is not None:
            query = query.where(events.c.stream_ordering < before)
        if after is not None:
            query = query.where(events.c.stream_ordering > after)
        order = events.c.stream_ordering.desc() if backwards else events.c.stream_ordering.asc()
        return [_load(row) for row in conn.execute(query.order_by(order).limit(limit))]

    def list_room_timeline(self, conn: Connection, room_id: str, *, from_: RoomPosition | None,
                           to: RoomPosition | None, limit: int, backwards: bool) -> list[StoredEvent]:
        """Accepted, non-outlier events of a room in topological order between two positions (``/messages``)."""
        query = (select(*_COLUMNS).join(rooms, rooms.c.room_id == events.c.room_id)
                 .where(events.c.room_id == room_id, *_ACCEPTED))
        return [_load(row) for row in conn.execute(
            timeline_window(query, from_=from_, to=to, backwards=backwards).limit(limit))]

    def get_room_end_position(self, conn: Connection, room_id: str) -> RoomPosition:
        """The gap after every event of the room this server has (``START`` for an empty room)."""
        row = conn.execute(select(func.max(events.c.depth), func.max(events.c.stream_ordering))
                           .where(events.c.room_id == room_id)).one()
        return RoomPosition(int(row[0] or 0), int(row[1] or 0))

    def get_position_at_stream(self, conn: Connection, room_id: str, stream: int) -> RoomPosition:
        """A stream position as a topological one: the deepest room event stored by then, with that stream."""
        depth = conn.execute(select(func.max(events.c.depth)).where(
            events.c.room_id == room_id, events.c.stream_ordering <= stream)).scalar_one_or_none()
        return RoomPosition(int(depth or 0), stream)

    def get_position_up_to(self, conn: Connection, room_id: str, until: WriterPositions) -> RoomPosition:
        """A ``/sync`` token's events positions as a topological one: just after the room's deepest event stored
        at or before ``until`` (``START`` when the room had none by then)."""
        row = conn.execute(
            select(events.c.depth, events.c.stream_ordering).where(
                events.c.room_id == room_id, *_ACCEPTED,
                up_to(events.c.instance_name, events.c.stream_ordering, until))
            .order_by(events.c.depth.desc(), events.c.stream_ordering.desc()).limit(1)).first()
        return RoomPosition.after(int(row.depth), int(row.stream_ordering)) if row is not None else START

    def list_events_by_timestamp(self, conn: Connection, room_id: str, ts: int, *, backwards: bool,
                                 limit: int) -> list[StoredEvent]:
        """Accepted timeline events nearest ``ts``: sent at or after it (earliest first), or at or before it
        (latest first) when ``backwards`` (``/timestamp_to_event``)."""
        query = (select(*_COLUMNS).join(rooms, rooms.c.room_id == events.c.room_id)
                 .where(events.c.room_id == room_id, *_ACCEPTED))
        key = (events.c.origin_server_ts, events.c.depth, events.c.stream_ordering)
        if backwards:
            query = query.where(events.c.origin_server_ts <= ts).order_by(*(column.desc() for column in key))
        else:
            query = query.where(events.c.origin_server_ts >= ts).order_by(*key)
        return [_load(row) for row in conn.execute(query.limit(limit))]

    def list_member_events(self, conn: Connection, room_id: str, user_id: str) -> list[StoredEvent]:
        """Every accepted ``m.room.member`` event about ``user_id`` in ``room_id``, in stream order (history
        visibility asks whether a departed user joined after an event)."""
        query = (select(*_COLUMNS).join(rooms, rooms.c.room_id == events.c.room_id)
                 .where(events.c.room_id == room_id, events.c.type == "m.room.member",
                        events.c.state_key == user_id, events.c.rejected_reason.is_(None))
                 .order_by(events.c.stream_ordering))
        return [_load(row) for row in conn.execute(query)]

    # --- what /sync reads: events between two tokens, writer by writer -------------------------------------------
    def list_rooms_with_events(self, conn: Connection, since: WriterPositions,
                               until: WriterPositions) -> set[str]:
        """Rooms with any event stored after ``since`` and at or before ``until`` (reads only the new rows)."""
        rows = conn.execute(select(events.c.room_id).distinct().where(
            between(events.c.instance_name, events.c.stream_ordering, since, until)))
        return {row.room_id for row in rows}

    def list_membership_changes(self, conn: Connection, user_id: str, since: WriterPositions | None,
                                until: WriterPositions) -> list[StoredEvent]:
        """Accepted ``m.room.member`` events about ``user_id`` in the range, in stream order."""
        query = (select(*_COLUMNS).join(rooms, rooms.c.room_id == events.c.room_id)
                 .where(events.c.state_key == user_id, events.c.type == "m.room.member",
                        *_ACCEPTED,
                        between(events.c.instance_name, events.c.stream_ordering, since, until))
                 .order_by(events.c.stream_ordering))
        return [_load(row) for row in conn.execute(query)]

    def list_member_targets(self, conn: Connection, since: WriterPositions, until: WriterPositions,
                            limit: int) -> list[tuple[str, str]] | None:
        """``(room id, state key)`` of every accepted ``m.room.member`` event in the range, in any room; None when
        there are more than ``limit`` (a woken ``/sync`` shares this to skip its per-user membership reads when
        nobody's membership changed, and reads per user when too much did)."""
        rows = conn.execute(select(events.c.room_id, events.c.state_key)
                            .where(events.c.type == "m.room.member", *_ACCEPTED,
                                   between(events.c.instance_name, events.c.stream_ordering, since, until))
                            .limit(limit + 1)).all()
        return None if len(rows) > limit else [(row.room_id, row.state_key) for row in rows]

    def list_latest_room_events(self, conn: Connection, room_id: str, since: WriterPositions | None,
                                until: WriterPositions, limit: int, *,
                                at_most: int | None = None) -> list[StoredEvent]:
        """Up to ``limit`` accepted timeline events of a room in the range, latest first; ``at_most`` cuts the
        range at a stream ordering (a departed member's leave, or the next page of a long range)."""
        query = (select(*_COLUMNS).join(rooms, rooms.c.room_id == events.c.room_id)
                 .where(events.c.room_id == room_id, *_ACCEPTED,
                        between(events.c.instance_name, events.c.stream_ordering, since, until))
                 .order_by(events.c.stream_ordering.desc()).limit(limit))
        if at_most is not None:
            query = query.where(events.c.stream_ordering <= at_most)
        return [_load(row) for row in conn.execute(query)]

    def list_latest_events_in_rooms(self, conn: Connection, room_ids: Iterable[str], since: WriterPositions | None,
                                    until: WriterPositions, limit: int, *,
                                    at_most: Mapping[str, int] | None = None) -> dict[str, list[StoredEvent]]:
        """:meth:`list_latest_room_events` for many rooms at once: room id -> its latest events, latest first
        (rooms without any are left out). Each room is its own ``LIMIT``-ed branch of one ``UNION ALL``, served
        by the (room, stream) index like a single room's read, so an initial sync of N rooms costs one query per
        :data:`ROOMS_PER_QUERY` rooms, not one per room."""
        wanted = sorted(set(room_ids))
        cuts = at_most or {}
        found: dict[str, list[StoredEvent]] = {}
        for start in range(0, len(wanted), ROOMS_PER_QUERY):
            branches = []
            for room_id in wanted[start:start + ROOMS_PER_QUERY]:
                branch = (select(*_COLUMNS).join(rooms, rooms.c.room_id == events.c.room_id)
                          .where(events.c.room_id == room_id, *_ACCEPTED,
                                 between(events.c.instance_name, events.c.stream_ordering, since, until))
                          .order_by(events.c.stream_ordering.desc()).limit(limit))
                if room_id in cuts:
                    branch = branch.where(events.c.stream_ordering <= cuts[room_id])
                branches.append(branch)
            query = branches[0] if len(branches) == 1 else union_all(*(select(b.subquery()) for b in branches))
            for row in conn.execute(query):
                found.setdefault(row.room_id, []).append(_load(row))
        for batch in found.values():
            batch.sort(key=lambda stored: stored.stream_ordering, reverse=True)
        return found

    def list_latest_events_up_to(self, conn: Connection, room_ids: Iterable[str],
                                 until: WriterPositions) -> dict[str, str]:
        """:meth:`get_latest_event_up_to` for many rooms: room id -> its last accepted event at or before
        ``until`` (one query per :data:`ROOMS_PER_QUERY` rooms)."""
        wanted = sorted(set(room_ids))
        found: dict[str, str] = {}
        for start in range(0, len(wanted), ROOMS_PER_QUERY):
            branches = [select(events.c.room_id, events.c.event_id).where(
                events.c.room_id == room_id, *_ACCEPTED,
                up_to(events.c.instance_name, events.c.stream_ordering, until))
                .order_by(events.c.stream_ordering.desc()).limit(1)
                for room_id in wanted[start:start + ROOMS_PER_QUERY]]
            query = branches[0] if len(branches) == 1 else union_all(*(select(b.subquery()) for b in branches))
            found.update({row.room_id: row.event_id for row in conn.execute(query)})
        return found

    def get_latest_event_up_to(self, conn: Connection, room_id: str, until: WriterPositions) -> str | None:
        """The room's last accepted event at or before ``until``: the state after it is the state there."""
        return conn.execute(
            select(events.c.event_id).where(
                events.c.room_id == room_id, *_ACCEPTED,
                up_to(events.c.instance_name, events.c.stream_ordering, until))
            .order_by(events.c.stream_ordering.desc()).limit(1)).scalar_one_or_none()

    def list_latest_sent(self, conn: Connection, sender: str, room_ids: Iterable[str],
                         until: WriterPositions) -> dict[str, int]:
        """room id -> stream ordering of the last event ``sender`` sent there at or before ``until``, for the
        rooms where they sent any (one query per 500 rooms, each served by the (sender, room, stream) index)."""
        wanted = sorted(set(room_ids))
        found: dict[str, int] = {}
        for start in range(0, len(wanted), 500):
            rows = conn.execute(
                select(events.c.room_id, func.max(events.c.stream_ordering))
                .where(events.c.sender == sender, events.c.room_id.in_(wanted[start:start + 500]),
                       up_to(events.c.instance_name, events.c.stream_ordering, until))
                .group_by(events.c.room_id))
            found.update({room_id: int(position) for room_id, position in rows})
        return found

    def list_txn_ids(self, conn: Connection, user_id: str, device_id: str,
                     event_ids: Iterable[str]) -> dict[str, str]:
        """event id -> the client transaction id ``device_id`` sent it with, for those of ``event_ids`` it sent."""
        wanted = list(dict.fromkeys(event_ids))
        if not wanted:
            return {}
        rows = conn.execute(select(event_txn_ids.c.event_id, event_txn_ids.c.txn_id).where(
            event_txn_ids.c.user_id == user_id, event_txn_ids.c.device_id == device_id,
            event_txn_ids.c.event_id.in_(wanted)))
        return {row.event_id: row.txn_id for row in rows}

    def list_member_changes_in_rooms(self, conn: Connection, room_ids: Iterable[str], since: WriterPositions,
                                     until: WriterPositions) -> list[tuple[str, str | None]]:
        """``(member, membership)`` of every accepted membership event in the rooms in the range, in
        stream order (who arrived in or left the reader's rooms)."""
        wanted = sorted(set(room_ids))
        if not wanted:
            return []
        rows = conn.execute(select(events.c.state_key, events.c.json)
                            .where(events.c.type == "m.room.member", events.c.room_id.in_(wanted),
                                   *_ACCEPTED,
                                   between(events.c.instance_name, events.c.stream_ordering, since, until))
                            .order_by(events.c.stream_ordering))
        found = []
        for row in rows:
            membership = json.loads(row.json).get("content", {}).get("membership")
            found.append((row.state_key, membership if isinstance(membership, str) else None))
        return found

    def list_current_state_contents(self, conn: Connection, event_type: str) -> dict[str, dict[str, Any]]:
        """room id -> content of the ``(event_type, "")`` event in each room's current state (one query)."""
        rows = conn.execute(select(current_state_events.c.room_id, events.c.json)
                            .join(events, events.c.event_id == current_state_events.c.event_id)
                            .where(current_state_events.c.type == event_type, current_state_events.c.state_key == ""))
        contents = {}
        for row in rows:
            content = json.loads(row.json).get("content")
            contents[row.room_id] = content if isinstance(content, dict) else {}
        return contents

    def list_named_rooms(self, conn: Connection, room_ids: Iterable[str]) -> set[str]:
        """Those of ``room_ids`` whose current state has a non-empty ``m.room.name`` or canonical alias (one query
        per 500 rooms)."""
        wanted = sorted(set(room_ids))
        named: set[str] = set()
        for start in range(0, len(wanted), 500):
            rows = conn.execute(select(current_state_events.c.room_id, current_state_events.c.type, events.c.json)
                                .join(events, events.c.event_id == current_state_events.c.event_id)
                                .where(current_state_events.c.room_id.in_(wanted[start:start + 500]),
                                       current_state_events.c.type.in_(("m.room.name", "m.room.canonical_alias")),
                                       current_state_events.c.state_key == ""))
            for row in rows:
                content = json.loads(row.json).get("content")
                field = "name" if row.type == "m.room.name" else "alias"
                if isinstance(content, dict) and isinstance(content.get(field), str) and content[field]:
                    named.add(row.room_id)
        return named

    def list_events_in_rooms(self, conn: Connection, room_ids: Iterable[str], since: WriterPositions,
                             until: WriterPositions, limit: int) -> list[StoredEvent]:
        """Up to ``limit`` accepted timeline events of the rooms in the range, oldest first (legacy ``/events``)."""
        wanted = sorted(set(room_ids))
        if not wanted:
            return []
        query = (select(*_COLUMNS).join(rooms, rooms.c.room_id == events.c.room_id)
                 .where(events.c.room_id.in_(wanted), *_ACCEPTED,
                        between(events.c.instance_name, events.c.stream_ordering, since, until))
                 .order_by(events.c.stream_ordering).limit(limit))
        return [_load(row) for row in conn.execute(query)]

    def list_events_between(self, conn: Connection, since: WriterPositions, until: WriterPositions,
                            limit: int) -> list[StoredEvent]:
        """Up to ``limit`` accepted timeline events of every room in the range, in stream order (application
        service transactions follow the whole events stream)."""
        query = (select(*_COLUMNS).join(rooms, rooms.c.room_id == events.c.room_id)
                 .where(*_ACCEPTED, between(events.c.instance_name, events.c.stream_ordering, since, until))
                 .order_by(events.c.stream_ordering).limit(limit))
        return [_load(row) for row in conn.execute(query)]
