"""Room state: state groups stored as deltas, the state after each event, and each room's current state."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, delete, insert, select

from persistence.tables import current_state_events, event_state_groups, state_group_entries, state_groups
from protocol.events.model import StateKey

STATE_SNAPSHOT_EVERY = 100
"""A delta chain longer than this is cut by storing a full snapshot, bounding the reads a lookup needs."""


class StateStore:
    def insert_state_group(self, conn: Connection, room_id: str, event_id: str, prev_group: int | None,
                           delta: Mapping[StateKey, str]) -> int:
        """A new group equal to ``prev_group`` plus ``delta`` (or a snapshot when the chain is long)."""
        chain_length = 0
        if prev_group is not None:
            chain_length = conn.execute(
                select(state_groups.c.chain_length).where(state_groups.c.id == prev_group)).scalar_one() + 1
            if chain_length > STATE_SNAPSHOT_EVERY:
                delta = {**self.get_state(conn, prev_group), **delta}
                prev_group, chain_length = None, 0
        group = conn.execute(insert(state_groups).values(
            room_id=room_id, event_id=event_id, prev_group=prev_group, chain_length=chain_length,
        ).returning(state_groups.c.id)).scalar_one()
        if delta:
            conn.execute(insert(state_group_entries), [
                {"state_group": group, "type": key[0], "state_key": key[1], "event_id": event_id_}
                for key, event_id_ in delta.items()])
        return int(group)

    def get_state(self, conn: Connection, group: int) -> dict[StateKey, str]:
        """The full state of a group: walk to its snapshot, then apply deltas oldest first."""
        chain: list[int] = []
        current: int | None = group
        while current is not None:
            chain.append(current)
            current = conn.execute(
                select(state_groups.c.prev_group).where(state_groups.c.id == current)).scalar_one()
        rows = conn.execute(select(state_group_entries).where(state_group_entries.c.state_group.in_(chain)))
        by_group: dict[int, list[tuple[StateKey, str]]] = {}
        for row in rows:
            by_group.setdefault(row.state_group, []).append(((row.type, row.state_key), row.event_id))
        state: dict[StateKey, str] = {}
        for member in reversed(chain):
            state.update(by_group.get(member, []))
        return state

    def insert_event_state_group(self, conn: Connection, event_id: str, group: int) -> None:
        conn.execute(insert(event_state_groups).values(event_id=event_id, state_group=group))

    def get_event_state_group(self, conn: Connection, event_id: str) -> int | None:
        return conn.execute(select(event_state_groups.c.state_group)
                            .where(event_state_groups.c.event_id == event_id)).scalar_one_or_none()

    def upsert_current_state(self, conn: Connection, room_id: str, key: StateKey, event_id: str,
                             membership: str | None) -> None:
        conn.execute(delete(current_state_events).where(
            current_state_events.c.room_id == room_id, current_state_events.c.type == key[0],
            current_state_events.c.state_key == key[1]))
        conn.execute(insert(current_state_events).values(room_id=room_id, type=key[0], state_key=key[1],
                                                         event_id=event_id, membership=membership))

    def get_current_state_ids(self, conn: Connection, room_id: str) -> dict[StateKey, str]:
        rows = conn.execute(select(current_state_events).where(current_state_events.c.room_id == room_id))
        return {(row.type, row.state_key): row.event_id for row in rows}

    def get_current_state_ids_for(self, conn: Connection, room_id: str,
                                  keys: Iterable[StateKey]) -> dict[StateKey, str]:
        """Only the named entries of the current state: what building one event needs, whatever the room size."""
        wanted = set(keys)
        if not wanted:
            return {}
        types = {key[0] for key in wanted}
        state_keys = {key[1] for key in wanted}
        rows = conn.execute(select(current_state_events.c.type, current_state_events.c.state_key,
                                   current_state_events.c.event_id).where(
            current_state_events.c.room_id == room_id, current_state_events.c.type.in_(types),
            current_state_events.c.state_key.in_(state_keys)))
        found = {(row.type, row.state_key): row.event_id for row in rows}
        return {key: event_id for key, event_id in found.items() if key in wanted}

    def get_current_state_event_id(self, conn: Connection, room_id: str, key: StateKey) -> str | None:
        return conn.execute(select(current_state_events.c.event_id).where(
            current_state_events.c.room_id == room_id, current_state_events.c.type == key[0],
            current_state_events.c.state_key == key[1])).scalar_one_or_none()

    def list_rooms_with_membership(self, conn: Connection, user_id: str, membership: str) -> list[str]:
        rows = conn.execute(select(current_state_events.c.room_id).where(
            current_state_events.c.type == "m.room.member", current_state_events.c.state_key == user_id,
            current_state_events.c.membership == membership))
        return sorted(row.room_id for row in rows)

    def list_members(self, conn: Connection, room_id: str, membership: str | None = None) -> dict[str, str]:
        """user id -> membership for every member event in the room's current state."""
        query = select(current_state_events.c.state_key, current_state_events.c.membership).where(
            current_state_events.c.room_id == room_id, current_state_events.c.type == "m.room.member")
        if membership is not None:
            query = query.where(current_state_events.c.membership == membership)
        return {row.state_key: row.membership for row in conn.execute(query)}
