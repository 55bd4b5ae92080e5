"""What sliding sync lists are sorted and filtered by, read for many rooms at once: each room's latest "bump"
event, and a few kinds of its current state (encryption, creation type, space children).

Each read costs one statement per :data:`ROOMS_PER_STATEMENT` rooms however many rooms a user has, so a first
list of 1,000 rooms is a few statements, not thousands. Bump stamps are kept in ``room_bump_stamps`` by the events
writer as it stores each event (:func:`record_bump`, called by ``EventStore``), so a list reads one row per room
instead of searching each room's events backwards for its latest bump event.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from persistence.stream_ranges import up_to
from persistence.tables import current_state_events, events, room_bump_stamps, rooms
from protocol.sliding_sync.lists import BUMP_EVENT_TYPES
from protocol.sync_tokens import WriterPositions

ROOMS_PER_STATEMENT = 500
"""Room ids bound in one statement (SQLite allows 32,766 parameters; a few more are the event types)."""


_BUMP_TYPES = frozenset(BUMP_EVENT_TYPES)


def record_bump(conn: Connection, room_id: str, event_type: str, stream_ordering: int, instance_name: str) -> None:
    """Note a timeline event just stored (neither rejected nor an outlier) as its room's latest bump if its type
    bumps and it is newer than the one noted. In the writer's transaction, so the row commits with the event; a
    room's events are written by one writer at a time (per-room order), so rows never race."""
    if event_type not in _BUMP_TYPES:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(room_bump_stamps).values(room_id=room_id, stream_ordering=stream_ordering,
                                                        instance_name=instance_name)
    conn.execute(statement.on_conflict_do_update(
        index_elements=[room_bump_stamps.c.room_id],
        set_={"stream_ordering": statement.excluded.stream_ordering,
              "instance_name": statement.excluded.instance_name},
        where=room_bump_stamps.c.stream_ordering < statement.excluded.stream_ordering))


class RoomListStore:
    def list_bump_stamps(self, conn: Connection, room_ids: Iterable[str], until: WriterPositions) -> dict[str, int]:
        """room id -> stream ordering of its latest accepted timeline event of a bump type at or before ``until``
        (rooms with none are left out). Read from ``room_bump_stamps``; a room whose noted bump lies past
        ``until`` (its writer committed after this response's positions were read) is searched the old way,
        so a response never sorts by an event it does not hold."""
        wanted = sorted(set(room_ids))
        found: dict[str, int] = {}
        ahead: list[str] = []
        for start in range(0, len(wanted), ROOMS_PER_STATEMENT):
            for row in conn.execute(select(room_bump_stamps).where(
                    room_bump_stamps.c.room_id.in_(wanted[start:start + ROOMS_PER_STATEMENT]))):
                if until.includes(row.instance_name, int(row.stream_ordering)):
                    found[row.room_id] = int(row.stream_ordering)
                else:
                    ahead.append(row.room_id)
        return found | self._search_bump_stamps(conn, ahead, until)

    def _search_bump_stamps(self, conn: Connection, room_ids: list[str], until: WriterPositions) -> dict[str, int]:
        """The latest bump events of ``room_ids`` up to ``until`` from the events themselves: per room, a correlated
        ``LIMIT 1`` subquery walks its (room, stream) index backwards and stops at the first such event."""
        latest = (select(events.c.stream_ordering)
                  .where(events.c.room_id == rooms.c.room_id, events.c.type.in_(sorted(_BUMP_TYPES)),
                         events.c.rejected_reason.is_(None), events.c.outlier.is_(False),
                         up_to(events.c.instance_name, events.c.stream_ordering, until))
                  .order_by(events.c.stream_ordering.desc()).limit(1).scalar_subquery())
        found: dict[str, int] = {}
        for start in range(0, len(room_ids), ROOMS_PER_STATEMENT):
            rows = conn.execute(select(rooms.c.room_id, latest.label("bump_stamp"))
                                .where(rooms.c.room_id.in_(room_ids[start:start + ROOMS_PER_STATEMENT])))
            found.update({row.room_id: int(row.bump_stamp) for row in rows if row.bump_stamp is not None})
        return found

    def list_current_state_contents(self, conn: Connection, room_ids: Iterable[str],
                                    types: Iterable[str]) -> dict[str, dict[tuple[str, str], dict[str, Any]]]:
        """room id -> (type, state key) -> content, for the current state entries of ``types`` in ``room_ids``."""
        wanted = sorted(set(room_ids))
        kinds = sorted(set(types))
        found: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        for start in range(0, len(wanted), ROOMS_PER_STATEMENT):
            rows = conn.execute(
                select(current_state_events.c.room_id, current_state_events.c.type,
                       current_state_events.c.state_key, events.c.json)
                .join(events, events.c.event_id == current_state_events.c.event_id)
                .where(current_state_events.c.room_id.in_(wanted[start:start + ROOMS_PER_STATEMENT]),
                       current_state_events.c.type.in_(kinds)))
            for row in rows:
                content = json.loads(row.json).get("content")
                found.setdefault(row.room_id, {})[(row.type, row.state_key)] = (
                    content if isinstance(content, dict) else {})
        return found
