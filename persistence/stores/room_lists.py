"""What sliding sync lists are sorted and filtered by, read for many rooms at once: each room's latest "bump"
event, and a few kinds of its current state (encryption, creation type, space children).

Each read costs one statement per :data:`ROOMS_PER_STATEMENT` rooms however many rooms a user has, so a first
list of 1,000 rooms is a few statements, not thousands.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, select

from persistence.stream_ranges import up_to
from persistence.tables import current_state_events, events, rooms
from protocol.sync_tokens import WriterPositions

ROOMS_PER_STATEMENT = 500
"""Room ids bound in one statement (SQLite allows 32,766 parameters; a few more are the event types)."""


class RoomListStore:
    def list_bump_stamps(self, conn: Connection, room_ids: Iterable[str], types: Iterable[str],
                         until: WriterPositions) -> dict[str, int]:
        """room id -> stream ordering of its latest accepted event of one of ``types`` at or before ``until``
        (rooms with none are left out). One statement per :data:`ROOMS_PER_STATEMENT` rooms: per room, a
        correlated ``LIMIT 1`` subquery walks its (room, stream) index backwards and stops at the first such event,
        recent in any room people talk in."""
        wanted = sorted(set(room_ids))
        latest = (select(events.c.stream_ordering)
                  .where(events.c.room_id == rooms.c.room_id, events.c.type.in_(sorted(set(types))),
                         events.c.rejected_reason.is_(None), events.c.outlier.is_(False),
                         up_to(events.c.instance_name, events.c.stream_ordering, until))
                  .order_by(events.c.stream_ordering.desc()).limit(1).scalar_subquery())
        found: dict[str, int] = {}
        for start in range(0, len(wanted), ROOMS_PER_STATEMENT):
            rows = conn.execute(select(rooms.c.room_id, latest.label("bump_stamp"))
                                .where(rooms.c.room_id.in_(wanted[start:start + ROOMS_PER_STATEMENT])))
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
