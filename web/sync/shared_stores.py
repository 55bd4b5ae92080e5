"""The stores a woken ``/sync`` reads through: the reader-independent reads answered once per :class:`Snapshot`.

Each class overrides only reads whose answer depends on their arguments alone (a range bounded by writer
positions, immutable events and state groups, redactions and relations of given events), keyed by those
arguments; everything else, and all of the user's own data, goes to the plain store. The values are computed by a
plain store instance, never through these overrides, so one shared read never waits on another (no lock order
to get wrong), and each caller gets its own copy of the containers, which callers may change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping, Sequence

from sqlalchemy import Connection

from persistence.stores import Stores
from persistence.stores.events import EventStore, StoredEvent
from persistence.stores.relations import RelationStore
from persistence.stores.state import StateStore
from persistence.stores.users import UserStore
from protocol.events.model import StateKey
from protocol.sync_tokens import WriterPositions
from web.sync.shared import Snapshot


def _ids(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


class SharedEventStore(EventStore):
    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._plain = EventStore()

    def get_events(self, conn: Connection, event_ids: Iterable[str]) -> dict[str, StoredEvent]:
        wanted = _ids(event_ids)
        if not wanted:
            return {}
        return dict(self._snapshot.once(("events", wanted), lambda: self._plain.get_events(conn, wanted)))

    def get_event(self, conn: Connection, event_id: str) -> StoredEvent | None:
        return self.get_events(conn, [event_id]).get(event_id)

    def list_rooms_with_events(self, conn: Connection, since: WriterPositions, until: WriterPositions) -> set[str]:
        return set(self._snapshot.once(("rooms_with_events", since, until),
                                       lambda: self._plain.list_rooms_with_events(conn, since, until)))

    def list_latest_events_in_rooms(self, conn: Connection, room_ids: Iterable[str], since: WriterPositions | None,
                                    until: WriterPositions, limit: int, *,
                                    at_most: Mapping[str, int] | None = None) -> dict[str, list[StoredEvent]]:
        rooms = _ids(room_ids)
        if at_most:  # a left room's history, cut at the reader's own leave: not shared
            return self._plain.list_latest_events_in_rooms(conn, rooms, since, until, limit, at_most=at_most)
        found = self._snapshot.once(("latest_in_rooms", rooms, since, until, limit),
                                    lambda: self._plain.list_latest_events_in_rooms(conn, rooms, since, until, limit))
        return {room_id: list(batch) for room_id, batch in found.items()}

    def list_latest_events_up_to(self, conn: Connection, room_ids: Iterable[str],
                                 until: WriterPositions) -> dict[str, str]:
        rooms = _ids(room_ids)
        return dict(self._snapshot.once(("latest_up_to", rooms, until),
                                        lambda: self._plain.list_latest_events_up_to(conn, rooms, until)))

    def list_member_changes_in_rooms(self, conn: Connection, room_ids: Iterable[str], since: WriterPositions,
                                     until: WriterPositions) -> list[tuple[str, str | None]]:
        rooms = _ids(room_ids)
        return list(self._snapshot.once(("member_changes", rooms, since, until),
                                        lambda: self._plain.list_member_changes_in_rooms(conn, rooms, since, until)))


class SharedStateStore(StateStore):
    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._plain = StateStore()

    def get_event_state_groups(self, conn: Connection, event_ids: Iterable[str]) -> dict[str, int]:
        wanted = _ids(event_ids)
        if not wanted:
            return {}
        return dict(self._snapshot.once(("state_groups", wanted),
                                        lambda: self._plain.get_event_state_groups(conn, wanted)))

    def get_event_state_group(self, conn: Connection, event_id: str) -> int | None:
        return self.get_event_state_groups(conn, [event_id]).get(event_id)

    def get_state_ids_for_groups(self, conn: Connection, groups: Iterable[int],
                                 keys: Iterable[StateKey] | None = None) -> dict[int, dict[StateKey, str]]:
        starts = tuple(sorted(set(groups)))
        wanted = None if keys is None else frozenset(keys)
        found = self._snapshot.once(("state_ids", starts, wanted),
                                    lambda: self._plain.get_state_ids_for_groups(conn, starts, wanted))
        return {group: dict(state) for group, state in found.items()}

    def get_state(self, conn: Connection, group: int) -> dict[StateKey, str]:
        return self.get_state_ids_for_groups(conn, [group]).get(group, {})


class SharedRelationStore(RelationStore):
    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._plain = RelationStore()

    def list_parents_with_children(self, conn: Connection, event_ids: Sequence[str]) -> set[str]:
        wanted = _ids(event_ids)
        return set(self._snapshot.once(("parents_with_children", wanted),
                                       lambda: self._plain.list_parents_with_children(conn, wanted)))

    def list_redactions_of(self, conn: Connection, event_ids: list[str]) -> dict[str, list[str]]:
        wanted = _ids(event_ids)
        found = self._snapshot.once(("redactions_of", wanted),
                                    lambda: self._plain.list_redactions_of(conn, list(wanted)))
        return {target: list(ids) for target, ids in found.items()}


class SharedUserStore(UserStore):
    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._plain = UserStore()

    def list_erased(self, conn: Connection, user_ids: Collection[str]) -> set[str]:
        wanted = _ids(user_ids)
        return set(self._snapshot.once(("erased", wanted), lambda: self._plain.list_erased(conn, wanted)))


def shared_stores(stores: Stores, snapshot: Snapshot) -> Stores:
    """``stores`` whose reader-independent reads are answered from ``snapshot``."""
    return dataclasses.replace(stores, events=SharedEventStore(snapshot), state=SharedStateStore(snapshot),
                               relations=SharedRelationStore(snapshot), users=SharedUserStore(snapshot))
