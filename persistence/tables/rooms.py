"""Rooms and the event graph, written only by the events stream writers, and what they derive for the read paths."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, PrimaryKeyConstraint, Table, Text

from persistence.tables.metadata import metadata

rooms = Table(
    "rooms",
    metadata,
    Column("room_id", Text, primary_key=True),
    Column("room_version", Text, nullable=False),
    Column("creator", Text, nullable=False),
    Column("created_ts", BigInteger, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("room_id", Text, ForeignKey("rooms.room_id"), nullable=False),
    # Position in the events stream: what /sync and /messages order by; allocated from a sequence.
    Column("stream_ordering", BigInteger, nullable=False, unique=True),
    Column("depth", BigInteger, nullable=False),
    Column("type", Text, nullable=False),
    Column("state_key", Text, nullable=True),
    Column("sender", Text, nullable=False),
    Column("origin_server_ts", BigInteger, nullable=False),
    Column("instance_name", Text, nullable=False),
    # The PDU exactly as hashed and signed (canonical JSON text).
    Column("json", Text, nullable=False),
    Column("rejected_reason", Text, nullable=True),
    Column("outlier", Boolean, nullable=False, default=False),
    # The state event this one replaced in the room's state, served as unsigned.prev_content.
    Column("replaces_state", Text, nullable=True),
    Index(None, "room_id", "stream_ordering"),
    Index(None, "room_id", "depth", "stream_ordering"),
    Index(None, "room_id", "origin_server_ts"),
    # /sync finds a user's membership changes since a token by (state_key, stream_ordering).
    Index(None, "state_key", "stream_ordering"),
    # /sync reads where a user last spoke in each room (what they have read up to, until receipts say more).
    Index(None, "sender", "room_id", "stream_ordering"),
)

event_edges = Table(
    "event_edges",
    metadata,
    Column("event_id", Text, nullable=False),
    Column("prev_event_id", Text, nullable=False),
    PrimaryKeyConstraint("event_id", "prev_event_id"),
    Index(None, "prev_event_id"),
)

event_auth = Table(
    "event_auth",
    metadata,
    Column("event_id", Text, nullable=False),
    Column("auth_event_id", Text, nullable=False),
    PrimaryKeyConstraint("event_id", "auth_event_id"),
)

event_forward_extremities = Table(
    "event_forward_extremities",
    metadata,
    Column("room_id", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    PrimaryKeyConstraint("room_id", "event_id"),
)

# State is stored as groups, each a delta on a previous group, so a membership change in a large room adds one
# row instead of copying the member list. A group with no prev_group is a full snapshot; chains are cut short by
# a fresh snapshot every STATE_SNAPSHOT_EVERY deltas.
state_groups = Table(
    "state_groups",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("room_id", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("prev_group", BigInteger, nullable=True),
    Column("chain_length", Integer, nullable=False),
)

state_group_entries = Table(
    "state_group_entries",
    metadata,
    Column("state_group", BigInteger, nullable=False),
    Column("type", Text, nullable=False),
    Column("state_key", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    PrimaryKeyConstraint("state_group", "type", "state_key"),
)

# The state after each event (for a non-state event, the same group as the state before it).
event_state_groups = Table(
    "event_state_groups",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("state_group", BigInteger, nullable=False),
)

current_state_events = Table(
    "current_state_events",
    metadata,
    Column("room_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("state_key", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("membership", Text, nullable=True),
    PrimaryKeyConstraint("room_id", "type", "state_key"),
    Index(None, "state_key", "membership"),
)

# Client transaction ids (spec: "Transaction identifiers"): a retried send returns the first event.
event_txn_ids = Table(
    "event_txn_ids",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("device_id", Text, nullable=False),
    Column("room_id", Text, nullable=False),
    Column("txn_id", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("created_ts", BigInteger, nullable=False),
    PrimaryKeyConstraint("user_id", "device_id", "room_id", "txn_id"),
)

# Redactions as they arrive; whether one applies (and so whether to serve the target redacted) is decided with
# the room version's rules when the target is read, as the spec lets a redaction precede its target.
redactions = Table(
    "redactions",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("redacts", Text, nullable=False),
    Column("room_id", Text, nullable=False),
    Index(None, "redacts"),
)

# m.relates_to of every event that has one (edits, reactions, replies in threads, references).
event_relations = Table(
    "event_relations",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("room_id", Text, nullable=False),
    Column("relates_to_id", Text, nullable=False),
    Column("relation_type", Text, nullable=False),
    Column("aggregation_key", Text, nullable=True),
    Index(None, "relates_to_id", "relation_type"),
)

room_aliases = Table(
    "room_aliases",
    metadata,
    Column("room_alias", Text, primary_key=True),
    Column("room_id", Text, nullable=False),
    Column("creator", Text, nullable=False),
    Column("created_ts", BigInteger, nullable=False),
    Index(None, "room_id"),
)

# Rooms published in this server's room directory (``/directory/list/room`` and ``/publicRooms``).
room_directory = Table(
    "room_directory",
    metadata,
    Column("room_id", Text, primary_key=True),
    Column("published_ts", BigInteger, nullable=False),
)

# Rooms a user asked to forget (``POST /rooms/{roomId}/forget``), and the membership event that was theirs then.
# A room stays forgotten only while that event is still the user's current membership: any later membership event
# (a rejoin, an invite) brings the room back, as in Synapse, without the events writer touching this table.
forgotten_rooms = Table(
    "forgotten_rooms",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("room_id", Text, nullable=False),
    Column("membership_event_id", Text, nullable=False),
    Column("forgotten_ts", BigInteger, nullable=False),
    PrimaryKeyConstraint("user_id", "room_id"),
)

event_reports = Table(
    "event_reports",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("room_id", Text, nullable=False),
    Column("event_id", Text, nullable=True),
    Column("user_id", Text, nullable=False),
    Column("reason", Text, nullable=True),
    Column("score", Integer, nullable=True),
    Column("received_ts", BigInteger, nullable=False),
)

# Searchable text of events (spec: "Server Side Search"), one row per message body, room name or topic, keyed by
# the event's stream ordering (so SQLite's FTS5 index can use it as its rowid). The full-text indexes differ per
# database and exist only in migration 0004: a GIN index on to_tsvector('english', value) in PostgreSQL, the FTS5
# table event_search_fts (kept in step by triggers) in SQLite.
event_search = Table(
    "event_search",
    metadata,
    Column("stream_ordering", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("event_id", Text, nullable=False),
    Column("room_id", Text, nullable=False),
    Column("sender", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("value", Text, nullable=False),
    Column("origin_server_ts", BigInteger, nullable=False),
    Index(None, "room_id", "stream_ordering"),
)
