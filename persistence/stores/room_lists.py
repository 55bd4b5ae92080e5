"""What sliding sync lists are sorted and filtered by, read for many rooms at once: each room's latest "bump"
event, and a few kinds of its current state (encryption, creation type, space children).

Each read costs one statement per :data:`ROOMS_PER_QUERY` rooms however many rooms a user has, so a first list
of 1,000 rooms is a few dozen statements, not thousands.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, select, union_all

from persistence.stores.events import ROOMS_PER_QUERY
from persistence.stream_ranges import up_to
from persistence.tables import current_state_events, events
from protocol.sync_tokens import WriterPositions


class RoomListStore:
    def list_bump_stamps(self, conn: Connection, room_ids: Iterable[str], types: Iterable[str],
                         until: WriterPositions) -> dict[str, int]:
        """room id -> stream ordering of its latest accepted event of one of ``types`` at or before ``until``
        (rooms with none are left out). Each room is a ``LIMIT 1`` branch walking its (room, stream) index
        backwards, which stops at the first such event: recent in any room people talk in."""
        wanted = sorted(set(room_ids))
        kinds = sorted(set(types))
        found: dict[str, int] = {}
        for start in range(0, len(wanted), ROOMS_PER_QUERY):
            branches = [select(events.c.room_id, events.c.stream_ordering).where(
                events.c.room_id == room_id, events.c.type.in_(kinds), events.c.rejected_reason.is_(None),
                events.c.outlier.is_(False), up_to(events.c.instance_name, events.c.stream_ordering, until))
                .order_by(events.c.stream_ordering.desc()).limit(1)
                for room_id in wanted[start:start + ROOMS_PER_QUERY]]
            query = branches[0] if len(branches) == 1 else union_all(*(select(b.subquery()) for b in branches))
            found.update({row.room_id: int(row.stream_ordering) for row in conn.execute(query)})
        return found

    def list_current_state_contents(self, conn: Connection, room_ids: Iterable[str],
                                    types: Iterable[str]) -> dict[str, dict[tuple[str, str], dict[str, Any]]]:
        """room id -> (type, state key) -> content, for the current state entries of ``types`` in ``room_ids``."""
        wanted = sorted(set(room_ids))
        kinds = sorted(set(types))
        found: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        for start in range(0, len(wanted), 500):
            rows = conn.execute(
                select(current_state_events.c.room_id, current_state_events.c.type,
                       current_state_events.c.state_key, events.c.json)
                .join(events, events.c.event_id == current_state_events.c.event_id)
                .where(current_state_events.c.room_id.in_(wanted[start:start + 500]),
                       current_state_events.c.type.in_(kinds)))
            for row in rows:
                content = json.loads(row.json).get("content")
                found.setdefault(row.room_id, {})[(row.type, row.state_key)] = (
                    content if isinstance(content, dict) else {})
        return found
