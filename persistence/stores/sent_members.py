"""Which membership events each device has been sent by lazy-loading ``/sync`` responses (Client-Server API,
"Lazy-loading room members": a server leaves out the members a device already holds unless the filter sets
``include_redundant_members``).

Not a stream: the web tier records what a response sent right after building it, as it records forgotten rooms.
One row per (device, room, member) holds the membership event last sent and the events positions of the response
that sent it, so a later sync counts it as held only if its token is at or past those positions: a response the
client never received (it retries from its older token) sends the member again.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from persistence.tables import sync_sent_members
from protocol.sync_tokens import WriterPositions

ROOMS_PER_QUERY = 500


@dataclass(frozen=True)
class SentMember:
    event_id: str
    sent_until: WriterPositions


class SentMemberStore:
    def list_sent_members(self, conn: Connection, user_id: str, device_id: str,
                          room_ids: Collection[str]) -> dict[str, dict[str, SentMember]]:
        """room id -> member -> what the device was last sent about them, for ``room_ids``."""
        found: dict[str, dict[str, SentMember]] = {}
        wanted = sorted(set(room_ids))
        for start in range(0, len(wanted), ROOMS_PER_QUERY):
            rows = conn.execute(select(sync_sent_members).where(
                sync_sent_members.c.user_id == user_id, sync_sent_members.c.device_id == device_id,
                sync_sent_members.c.room_id.in_(wanted[start:start + ROOMS_PER_QUERY])))
            for row in rows:
                try:
                    sent_until = WriterPositions.decode(row.sent_until)
                except ValueError:
                    continue  # unreadable: as if never sent, so it is sent again
                found.setdefault(row.room_id, {})[row.member] = SentMember(row.event_id, sent_until)
        return found

    def upsert_sent_members(self, conn: Connection, user_id: str, device_id: str,
                            sent: Mapping[str, Mapping[str, str]], sent_until: WriterPositions) -> None:
        """Record ``sent`` (room id -> member -> event id) as sent by a response up to ``sent_until``; rows are
        written in key order, so concurrent syncs of one device cannot deadlock each other."""
        rows = [{"user_id": user_id, "device_id": device_id, "room_id": room_id, "member": member,
                 "event_id": event_id, "sent_until": sent_until.encode()}
                for room_id in sorted(sent) for member, event_id in sorted(sent[room_id].items())]
        if not rows:
            return
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(sync_sent_members)
        conn.execute(statement.on_conflict_do_update(
            index_elements=["user_id", "device_id", "room_id", "member"],
            set_={"event_id": statement.excluded.event_id, "sent_until": statement.excluded.sent_until}), rows)

    def delete_sent_members(self, conn: Connection, user_id: str, device_id: str,
                            room_ids: Collection[str] | None = None) -> None:
        """Forget what the device was sent: in ``room_ids``, or everywhere (None)."""
        query = delete(sync_sent_members).where(sync_sent_members.c.user_id == user_id,
                                                sync_sent_members.c.device_id == device_id)
        if room_ids is None:
            conn.execute(query)
            return
        wanted = sorted(set(room_ids))
        for start in range(0, len(wanted), ROOMS_PER_QUERY):
            conn.execute(query.where(sync_sent_members.c.room_id.in_(wanted[start:start + ROOMS_PER_QUERY])))
