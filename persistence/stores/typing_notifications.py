"""Typing notifications (Client-Server API, "Typing Notifications"): who is typing in each room, until when.

Written only by the typing stream writers. A row's stream position marks the last time the room's set of typers
changed because of that user (started, stopped, or timed out); refreshing a typer's timeout changes nothing a
client sees, so it keeps the position. Readers count a typer whose expiry has passed as stopped, whether or not
the writer has recorded the stop yet.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, select, update

from persistence.stream_ranges import between
from persistence.tables import typing
from persistence.upsert import upsert
from protocol.sync_tokens import WriterPositions

STOPPED = 0
"""``expires_ts`` of a user who is not typing."""


class TypingStore:
    def get_room_expiries(self, conn: Connection, room_id: str) -> dict[str, int]:
        """user id -> ``expires_ts`` for everyone who ever typed in the room (:data:`STOPPED` for those who
        stopped)."""
        rows = conn.execute(select(typing.c.user_id, typing.c.expires_ts).where(typing.c.room_id == room_id))
        return {row.user_id: int(row.expires_ts) for row in rows}

    def upsert_typer(self, conn: Connection, room_id: str, user_id: str, expires_ts: int, stream_id: int,
                     instance_name: str) -> None:
        """Record a change clients must hear of: ``user_id`` started (``expires_ts`` in the future) or stopped."""
        upsert(conn, typing, {"room_id": room_id, "user_id": user_id},
               {"expires_ts": expires_ts, "stream_id": stream_id, "instance_name": instance_name})

    def update_expiry(self, conn: Connection, room_id: str, user_id: str, expires_ts: int) -> None:
        """Move a current typer's expiry, keeping its stream position (the room's set has not changed)."""
        conn.execute(update(typing).where(typing.c.room_id == room_id, typing.c.user_id == user_id)
                     .values(expires_ts=expires_ts))

    def list_rooms_with_expired(self, conn: Connection, now_ms: int, limit: int = 1000) -> list[str]:
        """Rooms holding a typer whose expiry has passed but whose stop is not recorded yet."""
        rows = conn.execute(select(typing.c.room_id).distinct()
                            .where(typing.c.expires_ts > STOPPED, typing.c.expires_ts <= now_ms)
                            .order_by(typing.c.room_id).limit(limit))
        return [row.room_id for row in rows]

    def list_changed_rooms(self, conn: Connection, room_ids: Collection[str], since: WriterPositions | None,
                           until: WriterPositions) -> set[str]:
        """Which of ``room_ids`` had their set of typers change after ``since`` and at or before ``until``."""
        if not room_ids:
            return set()
        rows = conn.execute(select(typing.c.room_id).distinct().where(
            typing.c.room_id.in_(sorted(room_ids)), between(typing.c.instance_name, typing.c.stream_id, since, until)))
        return {row.room_id for row in rows}

    def list_typing(self, conn: Connection, room_ids: Collection[str], now_ms: int) -> dict[str, list[str]]:
        """room id -> the users typing there now (sorted), for those of ``room_ids`` with anyone typing."""
        if not room_ids:
            return {}
        rows = conn.execute(select(typing.c.room_id, typing.c.user_id)
                            .where(typing.c.room_id.in_(sorted(room_ids)), typing.c.expires_ts > now_ms)
                            .order_by(typing.c.room_id, typing.c.user_id))
        found: dict[str, list[str]] = {}
        for row in rows:
            found.setdefault(row.room_id, []).append(row.user_id)
        return found

    def list_rooms_changed_between(self, conn: Connection, since: WriterPositions,
                                   until: WriterPositions) -> list[str]:
        """Every room whose set of typers changed in the range (application services follow the whole stream)."""
        rows = conn.execute(select(typing.c.room_id).distinct().where(
            between(typing.c.instance_name, typing.c.stream_id, since, until)).order_by(typing.c.room_id))
        return [row.room_id for row in rows]
