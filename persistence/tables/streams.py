"""Stream bookkeeping shared by every writer: the outbox, writer positions, counters, and the device-list and
user-directory streams."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, PrimaryKeyConstraint, Table, Text

from persistence.tables.metadata import metadata

# Follow-up work recorded in the same transaction as the change that causes it, then drained by the task
# that owns the family/key (DESIGN.md guarantee 3). A lost poke delays the work; it cannot lose it.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("family", Text, nullable=False),
    Column("shard_key", Text, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_ts", BigInteger, nullable=False),
    Index(None, "family", "shard_key", "id"),
)

# Multi-writer stream bookkeeping: each writer's persisted-up-to position per stream.
stream_positions = Table(
    "stream_positions",
    metadata,
    Column("stream_name", Text, nullable=False),
    Column("instance_name", Text, nullable=False),
    Column("position", BigInteger, nullable=False),
    PrimaryKeyConstraint("stream_name", "instance_name"),
)

# SQLite has no sequences; its single writer allocates stream ids from this counter row instead.
stream_counters = Table(
    "stream_counters",
    metadata,
    Column("stream_name", Text, primary_key=True),
    Column("last_id", BigInteger, nullable=False),
)

# Changes to users' device lists. A row is a device's unless ``cross_signing_key_type`` is set (master,
# self_signing or user_signing): then ``device_id`` holds that cross-signing key's public key.
device_lists_stream = Table(
    "device_lists_stream",
    metadata,
    Column("stream_id", BigInteger, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("device_id", Text, nullable=False),
    Column("instance_name", Text, nullable=False),
    Column("cross_signing_key_type", Text, nullable=True),
    PrimaryKeyConstraint("stream_id", "user_id", "device_id"),
    Index(None, "user_id", "stream_id"),
)

user_directory = Table(
    "user_directory",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("display_name", Text, nullable=True),
    Column("avatar_url", Text, nullable=True),
    Column("updated_ts", BigInteger, nullable=False),
)
