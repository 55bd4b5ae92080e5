"""Simplified sliding sync connections (MSC4186): what each connection has sent its client, kept in the database
so any web process continues any connection.

A connection is one ``(user, device, conn_id)``; a request without ``pos`` starts it afresh. Every response is a
position row holding the sync token it was built up to and what the connection had sent by then, per room
(``protocol/sliding_sync/connection_state.py``). A request naming a position continues from that row; once a
client names a position, the rows before it can never be named again and are deleted.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, Table, Text, UniqueConstraint

from persistence.tables.metadata import metadata

sliding_sync_connections = Table(
    "sliding_sync_connections",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("user_id", Text, nullable=False),
    Column("device_id", Text, nullable=False),
    Column("conn_id", Text, nullable=False),
    Column("created_ts", BigInteger, nullable=False),
    UniqueConstraint("user_id", "device_id", "conn_id"),
)

sliding_sync_positions = Table(
    "sliding_sync_positions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("connection_id", BigInteger, ForeignKey("sliding_sync_connections.id", ondelete="CASCADE",
                                         name="fk_sliding_sync_positions_connection_id"),
           nullable=False),
    Column("token", Text, nullable=False),
    Column("rooms", Text, nullable=False),
    Column("created_ts", BigInteger, nullable=False),
    Index(None, "connection_id"),
)

room_bump_stamps = Table(
    "room_bump_stamps",
    metadata,
    Column("room_id", Text, primary_key=True),
    Column("stream_ordering", BigInteger, nullable=False),
    Column("instance_name", Text, nullable=False),
)
"""Each room's latest "bump" event (``BUMP_EVENT_TYPES``) in its timeline, kept by the events writer as it stores
events (``persistence/stores/room_lists.py``), so sorting a sliding sync list by recency reads one row per room
instead of searching each room's events (as Synapse's ``sliding_sync_joined_rooms.bump_stamp``)."""
