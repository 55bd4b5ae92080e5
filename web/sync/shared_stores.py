"""The stores a woken ``/sync`` reads through: the reader-independent reads answered once per :class:`Snapshot`.

Each class overrides only reads whose answer depends on their arguments alone (a range bounded by writer
positions, immutable events and state groups, redactions and relations of given events), keyed by those
arguments; everything else, and all of the user's own data, goes to the plain store, except two per-user reads
skipped when the shared list of the range's membership events shows they would find nothing (the user's own
membership changes, and members who newly share a room with them). The values are computed by a
plain store instance, never through these overrides, so one shared read never waits on another (no lock order
to get wrong), and each caller gets its own copy of the containers, which callers may change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping, Sequence

from sqlalchemy import Connection

from persistence.stores import Stores
from persistence.stores.events import EventStore, StoredEvent
from persistence.stores.presence import PresenceStore
from persistence.stores.relations import RelationStore
from persistence.stores.state import StateStore
from persistence.stores.users import UserStore
from protocol.events.model import StateKey
from protocol.presence import UserPresence
from protocol.sync_tokens import WriterPositions
from web.sync.shared import Snapshot

MEMBER_TARGETS_LIMIT = 1000
"""Membership events in a range beyond which the per-user reads are not skipped (a woken sync whose token is old)."""


def _ids(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


def _member_targets(snapshot: Snapshot, conn: Connection, since: WriterPositions,
                    until: WriterPositions) -> list[tuple[str, str]] | None:
    """Who had a membership event in the range (room, member), read once per snapshot; None if too many."""
    return snapshot.once(("member_targets", since, until),
                         lambda: EventStore().list_member_targets(conn, since, until, MEMBER_TARGETS_LIMIT))


class SharedEventStore(EventStore):
    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._plain = EventStore()

    def get_events(self, conn: Connection, event_ids: Iterable[str]) -> dict[str, StoredEvent]:
        """By id: an event any sync of the snapshot read is not read again (a reader's own membership event is
        wanted by its rooms and by visibility); the rest in one read, shared by syncs asking the same."""
        wanted = _ids(event_ids)
        if not wanted:
            return {}
        by_id: dict[str, StoredEvent] = self._snapshot.once(("events_by_id",), dict)
        found = {event_id: by_id[event_id] for event_id in wanted if event_id in by_id}
        missing = tuple(event_id for event_id in wanted if event_id not in found)
        if missing:
            read = self._snapshot.once(("events", missing), lambda: self._plain.get_events(conn, missing))
            by_id.update(read)
            found.update(read)
        return found

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

    def list_membership_changes(self, conn: Connection, user_id: str, since: WriterPositions | None,
                                until: WriterPositions) -> list[StoredEvent]:
        if since is not None:
            targets = _member_targets(self._snapshot, conn, since, until)
            if targets is not None and all(member != user_id for _, member in targets):
                return []  # nothing about this user in the range: no need to ask
        return self._plain.list_membership_changes(conn, user_id, since, until)

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
        """Whole states, shared, then cut to ``keys``: visibility asks each reader's own membership key, which
        would otherwise be one query per woken sync (groups are immutable, so the whole state never changes)."""
        starts = tuple(sorted(set(groups)))
        if not starts:
            return {}
        whole = self._snapshot.once(("state_ids", starts),
                                    lambda: self._plain.get_state_ids_for_groups(conn, starts))
        if keys is None:
            return {group: dict(state) for group, state in whole.items()}
        wanted = set(keys)
        return {group: {key: event_id for key, event_id in state.items() if key in wanted}
                for group, state in whole.items()}

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


class SharedPresenceStore(PresenceStore):
    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._plain = PresenceStore()

    def list_newly_visible(self, conn: Connection, observer: str, room_ids: Collection[str],
                           since: WriterPositions, until: WriterPositions) -> list[UserPresence]:
        targets = _member_targets(self._snapshot, conn, since, until)
        if targets is not None and not any(room_id in room_ids for room_id, _ in targets):
            return []  # no membership event in the observer's rooms: nobody came to share one
        return self._plain.list_newly_visible(conn, observer, room_ids, since, until)


def shared_stores(stores: Stores, snapshot: Snapshot) -> Stores:
    """``stores`` whose reader-independent reads are answered from ``snapshot``."""
    return dataclasses.replace(stores, events=SharedEventStore(snapshot), state=SharedStateStore(snapshot),
                               relations=SharedRelationStore(snapshot), users=SharedUserStore(snapshot),
                               presence=SharedPresenceStore(snapshot))
