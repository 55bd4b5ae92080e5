"""Ephemeral streams: typing, receipts, presence."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, PrimaryKeyConstraint, Table, Text

from persistence.tables.metadata import metadata

# Who is typing in which room (spec: "Typing Notifications"), one row per (room, user) that ever typed there. A row
# moves to a new typing stream position whenever the room's set of typers changes because of it; ``expires_ts`` is
# when the typing stops by itself, 0 once it has stopped. Rows are kept when typing stops, so a /sync whose range
# covers the stop still sees that the room's set changed.
typing = Table(
    "typing",
    metadata,
    Column("room_id", Text, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("expires_ts", BigInteger, nullable=False),
    Column("stream_id", BigInteger, nullable=False),
    Column("instance_name", Text, nullable=False),
    PrimaryKeyConstraint("room_id", "user_id"),
    Index(None, "room_id", "stream_id"),
    Index(None, "expires_ts"),
)

# Receipts (spec: "Receipts"), one row per (room, user, receipt type, thread) holding the latest; ``thread_id`` is
# '' for an unthreaded receipt, else 'main' or a thread root's event id. ``event_stream_ordering`` is where the
# acknowledged event sorts in the events stream, which is how "later" is judged. Each accepted receipt moves the
# row to a new position in the receipts stream.
receipts = Table(
    "receipts",
    metadata,
    Column("room_id", Text, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("receipt_type", Text, nullable=False),
    Column("thread_id", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("event_stream_ordering", BigInteger, nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("stream_id", BigInteger, nullable=False),
    Column("instance_name", Text, nullable=False),
    PrimaryKeyConstraint("room_id", "user_id", "receipt_type", "thread_id"),
    Index(None, "room_id", "stream_id"),
)

# Presence (spec: "Presence"), one row per local user who ever had any. A row moves to a new presence stream
# position only when clients must hear of it (its state or status message changed); newer activity or syncing
# is recorded in place (protocol/presence.py).
presence = Table(
    "presence",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("state", Text, nullable=False),
    Column("status_msg", Text, nullable=True),
    Column("last_active_ts", BigInteger, nullable=False),
    Column("syncing_until_ts", BigInteger, nullable=False),
    Column("stream_id", BigInteger, nullable=False),
    Column("instance_name", Text, nullable=False),
    Index(None, "stream_id"),
    Index(None, "state"),
)
