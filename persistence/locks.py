"""Advisory write locks: per room (DESIGN.md guarantee 1), per stream writer, per user.

Routing already sends a room's events to one writer; the lock keeps per-room order true even while a room moves
between writers (a moment of overlap then only waits). On PostgreSQL it is a transaction-scoped advisory lock;
SQLite write transactions start with BEGIN IMMEDIATE and so already exclude every other writer.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection, text

ROOM_LOCK_CLASS = 0x726F6F6D  # "room": the first key of the two-key advisory lock, apart from other lock kinds


def _key(room_id: str) -> int:
    """A signed 32-bit key; two rooms sharing one only ever wait for each other, never corrupt each other."""
    return int.from_bytes(hashlib.blake2b(room_id.encode("utf-8"), digest_size=4).digest(), "big", signed=True)


def lock_room(conn: Connection, room_id: str) -> None:
    """Hold the room's lock until the caller's transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:class, :key)"),
                     {"class": ROOM_LOCK_CLASS, "key": _key(room_id)})


WRITER_LOCK_CLASS = 0x7374726D  # "strm"


def lock_stream_writer(conn: Connection, stream: str, writer: str) -> None:
    """Hold ``writer``'s lock on ``stream`` until the caller's transaction ends, so one writer's ids commit in the
    order they were allocated even when it runs several tasks at once: readers may then trust "writer W is at P"
    (``protocol/sync_tokens.py``). SQLite serialises every write transaction already."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:class, :key)"),
                     {"class": WRITER_LOCK_CLASS, "key": _key(f"{stream}\x00{writer}")})


USER_LOCK_CLASS = 0x75736572  # "user"


def lock_user(conn: Connection, stream: str, user_id: str) -> None:
    """Hold ``user_id``'s lock on ``stream`` until the transaction ends: a read-modify-write of one user's rows
    (tags inside ``m.tag``) stays whole even when their shard moves between writers mid-flight."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:class, :key)"),
                     {"class": USER_LOCK_CLASS, "key": _key(f"{stream}\x00{user_id}")})


ROOM_STREAM_LOCK_CLASS = 0x72737472  # "rstr"


def lock_room_on_stream(conn: Connection, stream: str, room_id: str) -> None:
    """Hold ``room_id``'s lock on one room-sharded stream other than events (typing, receipts) until the
    transaction ends: a read-modify-write of the room's rows stays whole when several tasks of one writer run at
    once, or the room's shard moves. Apart from :func:`lock_room`, so it never waits on the events writer."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:class, :key)"),
                     {"class": ROOM_STREAM_LOCK_CLASS, "key": _key(f"{stream}\x00{room_id}")})


BACKFILL_LOCK_CLASS = 0x62666C6C  # "bfll"


def lock_backfill_orderings(conn: Connection) -> None:
    """Hold the lock on the backfilled events' (negative) stream orderings until the transaction ends: they are
    taken as one below the lowest stored, and stream orderings are unique across every room and writer."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:class, 0)"), {"class": BACKFILL_LOCK_CLASS})
