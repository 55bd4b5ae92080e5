"""Room state: state groups stored as deltas, the state after each event, and each room's current state."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Select, and_, bindparam, case, delete, func, insert, literal, or_, select

from persistence.tables import current_state_events, event_state_groups, state_group_entries, state_groups
from protocol.events.model import StateKey

STATE_SNAPSHOT_EVERY = 100
"""A delta chain longer than this is cut by storing a full snapshot, bounding the reads a lookup needs."""


def _chain_entries(at_keys: bool) -> Select[Any]:
    """Every group in ``:starts`` walked down its delta chain to its snapshot, with each link's entries (only
    those of ``:types`` x ``:state_keys`` when ``at_keys``). Built once: the hot read paths (visibility, /sync)
    run it with new parameters instead of assembling a recursive query each time."""
    chain = select(state_groups.c.id.label("start"), state_groups.c.id.label("member"),
                   state_groups.c.prev_group.label("prev_group"), literal(0).label("distance")
                   ).where(state_groups.c.id.in_(bindparam("starts", expanding=True))).cte("chain", recursive=True)
    earlier = state_groups.alias("earlier")
    chain = chain.union_all(select(chain.c.start, earlier.c.id, earlier.c.prev_group, chain.c.distance + 1)
                            .join(earlier, earlier.c.id == chain.c.prev_group))
    query = (select(chain.c.start, chain.c.distance, state_group_entries.c.type, state_group_entries.c.state_key,
                    state_group_entries.c.event_id)
             .join(state_group_entries, state_group_entries.c.state_group == chain.c.member))
    if at_keys:
        query = query.where(state_group_entries.c.type.in_(bindparam("types", expanding=True)),
                            state_group_entries.c.state_key.in_(bindparam("state_keys", expanding=True)))
    return query


PRESENT = ("join", "invite")
DEPARTED = ("leave", "ban")


def _heroes() -> Select[Any]:
    """Members of ``:rooms`` other than ``:exclude``, ranked by user id within each room's present
    (joined, invited) and departed (left, banned) members, up to ``:limit`` of each."""
    members = current_state_events.c
    ranked = select(members.room_id, members.state_key, members.membership, func.row_number().over(
        partition_by=(members.room_id, case((members.membership.in_(PRESENT), 0), else_=1)),
        order_by=members.state_key).label("rank")).where(
        members.room_id.in_(bindparam("rooms", expanding=True)), members.type == "m.room.member",
        members.membership.in_(PRESENT + DEPARTED), members.state_key != bindparam("exclude")).subquery()
    return select(ranked.c.room_id, ranked.c.state_key, ranked.c.membership).where(
        ranked.c.rank <= bindparam("limit"))


_HEROES = _heroes()
_CHAIN_ENTRIES = _chain_entries(at_keys=False)
_CHAIN_ENTRIES_AT_KEYS = _chain_entries(at_keys=True)


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

    def get_event_state_groups(self, conn: Connection, event_ids: Iterable[str]) -> dict[str, int]:
        """event id -> the group of the state after it, for every listed event that has one (one query)."""
        wanted = list(dict.fromkeys(event_ids))
        if not wanted:
            return {}
        rows = conn.execute(select(event_state_groups.c.event_id, event_state_groups.c.state_group)
                            .where(event_state_groups.c.event_id.in_(wanted)))
        return {row.event_id: int(row.state_group) for row in rows}

    def get_state_ids_for_groups(self, conn: Connection, groups: Iterable[int],
                                 keys: Iterable[StateKey] | None = None) -> dict[int, dict[StateKey, str]]:
        """The state of several groups at once, only the entries at ``keys`` (all of them for None).

        One recursive query walks every group's delta chain to its snapshot; per group and key, the entry
        nearest the group wins. What a batch of events needs (who may see them) costs two round trips, not one
        per chain link.
        """
        starts = list(dict.fromkeys(groups))
        if not starts:
            return {}
        wanted = None if keys is None else set(keys)
        if wanted is None:
            rows = conn.execute(_CHAIN_ENTRIES, {"starts": starts})
        elif not wanted:
            return {start: {} for start in starts}
        else:
            rows = conn.execute(_CHAIN_ENTRIES_AT_KEYS, {"starts": starts, "types": sorted({k[0] for k in wanted}),
                                                         "state_keys": sorted({k[1] for k in wanted})})
        nearest: dict[int, dict[StateKey, tuple[int, str]]] = {start: {} for start in starts}
        for row in rows:
            key = (row.type, row.state_key)
            if wanted is not None and key not in wanted:
                continue
            found = nearest[int(row.start)]
            if key not in found or row.distance < found[key][0]:
                found[key] = (int(row.distance), row.event_id)
        return {start: {key: event_id for key, (_, event_id) in found.items()} for start, found in nearest.items()}

    def upsert_current_state(self, conn: Connection, room_id: str, key: StateKey, event_id: str,
                             membership: str | None) -> None:
        conn.execute(delete(current_state_events).where(
            current_state_events.c.room_id == room_id, current_state_events.c.type == key[0],
            current_state_events.c.state_key == key[1]))
        conn.execute(insert(current_state_events).values(room_id=room_id, type=key[0], state_key=key[1],
                                                         event_id=event_id, membership=membership))

    def delete_current_state(self, conn: Connection, room_id: str, key: StateKey) -> None:
        """Drop one key from the room's current state (state resolution over a fork may leave it out)."""
        conn.execute(delete(current_state_events).where(
            current_state_events.c.room_id == room_id, current_state_events.c.type == key[0],
            current_state_events.c.state_key == key[1]))

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

    def list_current_among(self, conn: Connection, candidates: Iterable[tuple[str, StateKey, str]]) -> set[str]:
        """Which of ``candidates`` (room id, state key, event id) are in their room's current state (read by the
        primary key, however large the rooms)."""
        wanted = list(candidates)
        found: set[str] = set()
        for start in range(0, len(wanted), 100):
            clauses = [and_(current_state_events.c.room_id == room_id, current_state_events.c.type == key[0],
                            current_state_events.c.state_key == key[1], current_state_events.c.event_id == event_id)
                       for room_id, key, event_id in wanted[start:start + 100]]
            found.update(conn.execute(select(current_state_events.c.event_id).where(or_(*clauses))).scalars())
        return found

    def get_current_state_event_id(self, conn: Connection, room_id: str, key: StateKey) -> str | None:
        return conn.execute(select(current_state_events.c.event_id).where(
            current_state_events.c.room_id == room_id, current_state_events.c.type == key[0],
            current_state_events.c.state_key == key[1])).scalar_one_or_none()

    def list_current_state_of_type(self, conn: Connection, room_id: str, event_type: str) -> dict[str, str]:
        """state key -> event id for one type of the room's current state (e.g. a space's ``m.space.child``)."""
        rows = conn.execute(select(current_state_events.c.state_key, current_state_events.c.event_id).where(
            current_state_events.c.room_id == room_id, current_state_events.c.type == event_type))
        return {row.state_key: row.event_id for row in rows}

    def get_membership(self, conn: Connection, room_id: str, user_id: str) -> tuple[str | None, str] | None:
        """``(membership, member event id)`` of ``user_id`` in the current state of ``room_id``, or None."""
        row = conn.execute(select(current_state_events.c.membership, current_state_events.c.event_id).where(
            current_state_events.c.room_id == room_id, current_state_events.c.type == "m.room.member",
            current_state_events.c.state_key == user_id)).first()
        return (row.membership, row.event_id) if row else None

    def list_rooms_with_membership(self, conn: Connection, user_id: str, membership: str) -> list[str]:
        rows = conn.execute(select(current_state_events.c.room_id).where(
            current_state_events.c.type == "m.room.member", current_state_events.c.state_key == user_id,
            current_state_events.c.membership == membership))
        return sorted(row.room_id for row in rows)

    def share_a_room(self, conn: Connection, user_id: str, other_id: str) -> bool:
        """Whether both users are joined to one room (whom presence is shown to, as Synapse's is_visible)."""
        mine = select(current_state_events.c.room_id).where(
            current_state_events.c.type == "m.room.member", current_state_events.c.state_key == user_id,
            current_state_events.c.membership == "join")
        found = conn.execute(select(current_state_events.c.room_id).where(
            current_state_events.c.type == "m.room.member", current_state_events.c.state_key == other_id,
            current_state_events.c.membership == "join", current_state_events.c.room_id.in_(mine)).limit(1)).first()
        return found is not None

    def list_members(self, conn: Connection, room_id: str, membership: str | None = None) -> dict[str, str]:
        """user id -> membership for every member event in the room's current state."""
        query = select(current_state_events.c.state_key, current_state_events.c.membership).where(
            current_state_events.c.room_id == room_id, current_state_events.c.type == "m.room.member")
        if membership is not None:
            query = query.where(current_state_events.c.membership == membership)
        return {row.state_key: row.membership for row in conn.execute(query)}

    def list_user_memberships(self, conn: Connection, user_id: str) -> dict[str, tuple[str, str]]:
        """room id -> ``(membership, member event id)`` for every room whose current state names ``user_id``."""
        rows = conn.execute(select(current_state_events.c.room_id, current_state_events.c.membership,
                                   current_state_events.c.event_id).where(
            current_state_events.c.type == "m.room.member", current_state_events.c.state_key == user_id))
        return {row.room_id: (row.membership, row.event_id) for row in rows}

    def count_memberships_in_rooms(self, conn: Connection, room_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        """:meth:`count_memberships` for many rooms in one grouped query: room id -> membership -> count."""
        wanted = sorted(set(room_ids))
        if not wanted:
            return {}
        rows = conn.execute(select(current_state_events.c.room_id, current_state_events.c.membership, func.count())
                            .where(current_state_events.c.room_id.in_(wanted),
                                   current_state_events.c.type == "m.room.member")
                            .group_by(current_state_events.c.room_id, current_state_events.c.membership))
        counts: dict[str, dict[str, int]] = {}
        for room_id, membership, count in rows:
            counts.setdefault(room_id, {})[membership] = int(count)
        return counts

    def list_heroes_in_rooms(self, conn: Connection, room_ids: Iterable[str], *, exclude: str,
                             limit: int) -> dict[str, list[str]]:
        """room id -> up to ``limit`` members by user id other than ``exclude``: those joined or invited, or,
        in a room with none, those who left or were banned (a room summary's heroes). One prebuilt query
        ranks each room's members within the two classes, whatever the number of rooms."""
        wanted = sorted(set(room_ids))
        if not wanted:
            return {}
        present: dict[str, list[str]] = {}
        departed: dict[str, list[str]] = {}
        for row in conn.execute(_HEROES, {"rooms": wanted, "exclude": exclude, "limit": limit}):
            (present if row.membership in PRESENT else departed).setdefault(row.room_id, []).append(row.state_key)
        return {room_id: sorted(present.get(room_id) or departed[room_id]) for room_id in wanted
                if room_id in present or room_id in departed}

    def list_users_sharing_a_room(self, conn: Connection, user_id: str, candidates: Iterable[str]) -> set[str]:
        """Which of ``candidates`` are joined to some room ``user_id`` is joined to now."""
        wanted = sorted(set(candidates))
        if not wanted:
            return set()
        mine = current_state_events.alias("mine")
        rows = conn.execute(select(current_state_events.c.state_key).distinct()
                            .join(mine, mine.c.room_id == current_state_events.c.room_id)
                            .where(mine.c.type == "m.room.member", mine.c.state_key == user_id,
                                   mine.c.membership == "join", current_state_events.c.type == "m.room.member",
                                   current_state_events.c.membership == "join",
                                   current_state_events.c.state_key.in_(wanted)))
        return {row.state_key for row in rows}
