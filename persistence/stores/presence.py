"""Presence (Client-Server API, "Presence"): each local user's state, status message, activity and syncing.

Written only by the presence stream writers. A row carries the stream position of the last change clients must
hear of; ``update_activity`` records newer activity in place. Who may see whose presence is "shares a joined
room, or is the user": the listings read that straight from the current room state, and which users started
sharing a room from the membership events of a range.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update

from persistence.stream_ranges import between
from persistence.tables import current_state_events, events, presence
from persistence.upsert import upsert
from protocol.presence import OFFLINE, ONLINE, Cutoffs, UserPresence
from protocol.sync_tokens import WriterPositions


def _presence(row: Any) -> UserPresence:
    return UserPresence(row.user_id, row.state, row.status_msg, int(row.last_active_ts), int(row.syncing_until_ts))


def _joined(user_id: Any) -> Any:
    """The rooms ``user_id`` (a value or a column) is joined to, as a subquery."""
    return select(current_state_events.c.room_id).where(
        current_state_events.c.type == "m.room.member", current_state_events.c.state_key == user_id,
        current_state_events.c.membership == "join")


class PresenceStore:
    def get_presence(self, conn: Connection, user_id: str) -> UserPresence:
        """The user's presence; offline, never active, for a user with no row."""
        row = conn.execute(select(presence).where(presence.c.user_id == user_id)).first()
        return _presence(row) if row else UserPresence(user_id)

    def list_presence(self, conn: Connection, user_ids: Collection[str]) -> list[UserPresence]:
        """Each user's presence, ordered by user id (offline, never active, for those with no row)."""
        found = {row.user_id: _presence(row)
                 for row in conn.execute(select(presence).where(presence.c.user_id.in_(sorted(user_ids))))}
        return [found.get(user_id) or UserPresence(user_id) for user_id in sorted(user_ids)]

    def upsert_presence(self, conn: Connection, state: UserPresence, stream_id: int, instance_name: str) -> None:
        """Record a change clients must hear of, at ``stream_id``."""
        upsert(conn, presence, {"user_id": state.user_id},
               {"state": state.state, "status_msg": state.status_msg, "last_active_ts": state.last_active_ts,
                "syncing_until_ts": state.syncing_until_ts, "stream_id": stream_id,
                "instance_name": instance_name})

    def update_activity(self, conn: Connection, state: UserPresence) -> None:
        """Record newer activity or syncing of a user with a row, keeping its stream position."""
        conn.execute(update(presence).where(presence.c.user_id == state.user_id).values(
            last_active_ts=state.last_active_ts, syncing_until_ts=state.syncing_until_ts))

    def list_timed_out(self, conn: Connection, cutoffs: Cutoffs, limit: int = 1000) -> list[str]:
        """Users for whom a timeout has run out by ``cutoffs`` (:func:`protocol.presence.timed_out`'s rule)."""
        offline = and_(presence.c.syncing_until_ts < cutoffs.synced_before,
                       presence.c.last_active_ts < cutoffs.active_before)
        idle = and_(presence.c.state == ONLINE, presence.c.last_active_ts < cutoffs.idle_before)
        rows = conn.execute(select(presence.c.user_id).where(presence.c.state != OFFLINE, or_(offline, idle))
                            .order_by(presence.c.user_id).limit(limit))
        return [row.user_id for row in rows]

    def list_visible_changes(self, conn: Connection, observer: str, since: WriterPositions | None,
                             until: WriterPositions, *, include_offline: bool = True) -> list[UserPresence]:
        """Presence of the observer and of everyone sharing a joined room with them, changed after ``since``
        (all when None) and at or before ``until``, in stream order."""
        sharing = select(current_state_events.c.state_key).where(
            current_state_events.c.type == "m.room.member", current_state_events.c.membership == "join",
            current_state_events.c.room_id.in_(_joined(observer)))
        query = select(presence).where(
            between(presence.c.instance_name, presence.c.stream_id, since, until),
            or_(presence.c.user_id == observer, presence.c.user_id.in_(sharing)))
        if not include_offline:
            query = query.where(presence.c.state != OFFLINE)
        return [_presence(row) for row in conn.execute(query.order_by(presence.c.stream_id))]

    def list_changes(self, conn: Connection, user_ids: Collection[str], since: WriterPositions | None,
                     until: WriterPositions) -> list[UserPresence]:
        """Presence of ``user_ids`` changed after ``since`` (all when None) and at or before ``until``, in stream
        order."""
        if not user_ids:
            return []
        rows = conn.execute(select(presence).where(
            presence.c.user_id.in_(sorted(user_ids)),
            between(presence.c.instance_name, presence.c.stream_id, since, until)).order_by(presence.c.stream_id))
        return [_presence(row) for row in rows]

    def list_newly_visible(self, conn: Connection, observer: str, room_ids: Collection[str],
                           since: WriterPositions, until: WriterPositions) -> list[UserPresence]:
        """Presence of the users who came to share one of ``room_ids`` with the observer through a join in the
        events range: the members who joined, and every member of a room the observer joined. Offline users are
        included (those who never set any, as offline): the observer has never been told of them, as Synapse
        sends them and SyTest's 31sync checks."""
        if not room_ids:
            return []
        member = current_state_events
        joins = conn.execute(select(events.c.room_id, events.c.state_key).distinct()
                             .join(member, and_(member.c.room_id == events.c.room_id,
                                                member.c.type == "m.room.member",
                                                member.c.state_key == events.c.state_key,
                                                member.c.event_id == events.c.event_id))
                             .where(events.c.room_id.in_(sorted(room_ids)), events.c.type == "m.room.member",
                                    member.c.membership == "join",
                                    between(events.c.instance_name, events.c.stream_ordering, since, until)))
        users: set[str] = set()
        rooms_joined: set[str] = set()
        for row in joins:
            if row.state_key == observer:
                rooms_joined.add(row.room_id)
            else:
                users.add(row.state_key)
        if rooms_joined:
            users |= {row.state_key for row in conn.execute(select(member.c.state_key).where(
                member.c.room_id.in_(sorted(rooms_joined)), member.c.type == "m.room.member",
                member.c.membership == "join"))}
        users.discard(observer)
        return self.list_presence(conn, users) if users else []

    def list_changes_between(self, conn: Connection, since: WriterPositions, until: WriterPositions,
                             limit: int) -> list[tuple[int, UserPresence]]:
        """Up to ``limit`` presence changes of anyone in the range, with their stream ids, in stream order."""
        rows = conn.execute(select(presence).where(
            between(presence.c.instance_name, presence.c.stream_id, since, until))
            .order_by(presence.c.stream_id).limit(limit))
        return [(int(row.stream_id), _presence(row)) for row in rows]
