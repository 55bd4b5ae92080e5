"""The schema as SQLAlchemy Core tables: the single source the migrations are checked against.

Timestamps are milliseconds since the epoch (as everywhere in Matrix). Secrets (access, refresh tokens) are
stored as SHA-256 digests only.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("password_hash", Text, nullable=True),
    Column("created_ts", BigInteger, nullable=False),
    Column("is_guest", Boolean, nullable=False, default=False),
    Column("admin", Boolean, nullable=False, default=False),
    Column("user_type", Text, nullable=True),
    Column("deactivated", Boolean, nullable=False, default=False),
)

profiles = Table(
    "profiles",
    metadata,
    Column("user_id", Text, ForeignKey("users.user_id"), primary_key=True),
    Column("displayname", Text, nullable=True),
    Column("avatar_url", Text, nullable=True),
)

devices = Table(
    "devices",
    metadata,
    Column("user_id", Text, ForeignKey("users.user_id"), nullable=False),
    Column("device_id", Text, nullable=False),
    Column("display_name", Text, nullable=True),
    Column("created_ts", BigInteger, nullable=False),
    Column("last_seen_ts", BigInteger, nullable=True),
    Column("last_seen_ip", Text, nullable=True),
    PrimaryKeyConstraint("user_id", "device_id"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("user_id", Text, nullable=False),
    Column("device_id", Text, nullable=False),
    Column("expiry_ts", BigInteger, nullable=True),
    Column("session_expiry_ts", BigInteger, nullable=True),
    # Set when this token was exchanged; the old token stays usable until the new pair is first used.
    Column("next_token_id", BigInteger, nullable=True),
    Index(None, "user_id", "device_id"),
)

access_tokens = Table(
    "access_tokens",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("user_id", Text, nullable=False),
    Column("device_id", Text, nullable=False),
    Column("created_ts", BigInteger, nullable=False),
    Column("valid_until_ts", BigInteger, nullable=True),
    Column("refresh_token_id", BigInteger, nullable=True),
    Column("used", Boolean, nullable=False, default=False),
    Index(None, "user_id", "device_id"),
)

ui_auth_sessions = Table(
    "ui_auth_sessions",
    metadata,
    Column("session_id", Text, primary_key=True),
    Column("created_ts", BigInteger, nullable=False),
    # What the session authorises (method + path), so a session cannot be replayed for another operation.
    Column("operation", Text, nullable=False),
    Column("user_id", Text, nullable=True),
    Column("completed", JSON, nullable=False),
    Column("data", JSON, nullable=False),
)

registration_tokens = Table(
    "registration_tokens",
    metadata,
    Column("token", Text, primary_key=True),
    Column("uses_allowed", Integer, nullable=True),
    Column("pending", Integer, nullable=False, default=0),
    Column("completed", Integer, nullable=False, default=0),
    Column("expiry_time", BigInteger, nullable=True),
)

admin_register_nonces = Table(
    "admin_register_nonces",
    metadata,
    Column("nonce", Text, primary_key=True),
    Column("created_ts", BigInteger, nullable=False),
)

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

device_lists_stream = Table(
    "device_lists_stream",
    metadata,
    Column("stream_id", BigInteger, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("device_id", Text, nullable=False),
    Column("instance_name", Text, nullable=False),
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

# --- Rooms and the event graph (written only by the events stream writers) -----------------------------------

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

# --- What the events writer derives from events, for the read paths -------------------------------------------

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

# --- Sync ----------------------------------------------------------------------------------------------------

# Filters uploaded with POST /user/{userId}/filter; ids count up per user (spec: "Filtering").
user_filters = Table(
    "user_filters",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("filter_id", BigInteger, nullable=False),
    Column("filter_json", Text, nullable=False),
    PrimaryKeyConstraint("user_id", "filter_id"),
)

# Account data, global (room_id '') and per room (spec: "Client Config"), one row per (user, room, type) holding
# the latest content; each write moves the row to a new position in the account_data stream.
account_data = Table(
    "account_data",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("room_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("stream_id", BigInteger, nullable=False),
    Column("instance_name", Text, nullable=False),
    PrimaryKeyConstraint("user_id", "room_id", "type"),
    Index(None, "user_id", "stream_id"),
)

# To-device messages waiting for a device (spec: "Send-to-Device messaging"), one row per message and device;
# a row is deleted once the device syncs with a token past it (it has then surely been received).
device_inbox = Table(
    "device_inbox",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("device_id", Text, nullable=False),
    Column("stream_id", BigInteger, nullable=False),
    Column("instance_name", Text, nullable=False),
    Column("sender", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("content", Text, nullable=False),
    PrimaryKeyConstraint("user_id", "device_id", "stream_id"),
)

# Which (sender device, transaction id) batches each recipient user has already been given: a retried
# sendToDevice delivers nothing twice, even after the first delivery was received and deleted.
to_device_txns = Table(
    "to_device_txns",
    metadata,
    Column("sender", Text, nullable=False),
    Column("sender_device", Text, nullable=False),
    Column("txn_id", Text, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("created_ts", BigInteger, nullable=False),
    PrimaryKeyConstraint("sender", "sender_device", "txn_id", "recipient"),
    Index(None, "created_ts"),
)

# --- Ephemeral streams: typing, receipts, presence --------------------------------------------------------------

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

# --- Push rules (spec: "Push Notifications"), written only by the push_rules stream writers ------------------

# A user's own rules; within a kind, ``position`` 0 is the most important. ``conditions`` (override and underride
# rules) and ``actions`` are JSON lists as the client sent them; ``pattern`` is a content rule's glob.
push_rules = Table(
    "push_rules",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("rule_id", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("conditions", Text, nullable=True),
    Column("pattern", Text, nullable=True),
    Column("actions", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    PrimaryKeyConstraint("user_id", "kind", "rule_id"),
)

# What a user changed of a server-default rule (NULL: as the server defines it).
push_rule_defaults = Table(
    "push_rule_defaults",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("rule_id", Text, nullable=False),
    Column("enabled", Boolean, nullable=True),
    Column("actions", Text, nullable=True),
    PrimaryKeyConstraint("user_id", "kind", "rule_id"),
)

# The push_rules stream: the position of each user's latest change. /sync sends m.push_rules when it lies in
# the token range; the events writer compares it with its cached rulesets, so a cache is never stale.
push_rules_changes = Table(
    "push_rules_changes",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("stream_id", BigInteger, nullable=False),
    Column("instance_name", Text, nullable=False),
)

# What the events writer's push rule evaluation decided, per local recipient and event: only rows that notify or
# highlight. /sync counts a room's unread notifications from them (those above the user's read position), per
# thread (``thread_id``: the m.thread root, or "main"); ``actions`` (JSON) is what a pusher sends on.
event_push_actions = Table(
    "event_push_actions",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("room_id", Text, nullable=False),
    Column("stream_ordering", BigInteger, nullable=False),
    Column("instance_name", Text, nullable=False),
    Column("thread_id", Text, nullable=False),
    Column("notify", Boolean, nullable=False),
    Column("highlight", Boolean, nullable=False),
    Column("actions", Text, nullable=False),
    PrimaryKeyConstraint("user_id", "event_id"),
    Index(None, "user_id", "room_id", "stream_ordering"),
)

# End-to-end encryption (Client-Server API, "End-to-End Encryption"). Key objects are kept as the canonical JSON
# the client uploaded; signatures uploaded later through /keys/signatures/upload live apart and are merged in
# when the keys are read, so each signer's signatures can be shown only to whom the spec allows.
e2e_device_keys = Table(
    "e2e_device_keys",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("device_id", Text, nullable=False),
    Column("key_json", Text, nullable=False),
    Column("ts", BigInteger, nullable=False),
    PrimaryKeyConstraint("user_id", "device_id"),
)

e2e_one_time_keys = Table(
    "e2e_one_time_keys",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("device_id", Text, nullable=False),
    Column("algorithm", Text, nullable=False),
    Column("key_id", Text, nullable=False),
    Column("key_json", Text, nullable=False),
    Column("ts", BigInteger, nullable=False),
    PrimaryKeyConstraint("user_id", "device_id", "algorithm", "key_id"),
)

# At most one fallback key per (device, algorithm); ``used`` once it was handed out by /keys/claim.
e2e_fallback_keys = Table(
    "e2e_fallback_keys",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("device_id", Text, nullable=False),
    Column("algorithm", Text, nullable=False),
    Column("key_id", Text, nullable=False),
    Column("key_json", Text, nullable=False),
    Column("used", Boolean, nullable=False),
    PrimaryKeyConstraint("user_id", "device_id", "algorithm"),
)

# key_type: master, self_signing or user_signing; public_key is the key's unpadded base64 ed25519 key.
e2e_cross_signing_keys = Table(
    "e2e_cross_signing_keys",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("key_type", Text, nullable=False),
    Column("public_key", Text, nullable=False),
    Column("key_json", Text, nullable=False),
    Column("ts", BigInteger, nullable=False),
    PrimaryKeyConstraint("user_id", "key_type"),
)

# user_id signed (target_user_id, target_device_id) with key_id; the target is a device id or a master key's
# public key.
e2e_cross_signing_signatures = Table(
    "e2e_cross_signing_signatures",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("key_id", Text, nullable=False),
    Column("target_user_id", Text, nullable=False),
    Column("target_device_id", Text, nullable=False),
    Column("signature", Text, nullable=False),
    PrimaryKeyConstraint("target_user_id", "target_device_id", "user_id", "key_id"),
)

# Server-side key backups (spec: "Server-side key backups"), one row per backup version a user created, numbered
# per user from 1. A deleted version keeps its row (``deleted``), so its number is never handed out again and
# deleting it twice succeeds. ``etag`` counts the changes to its keys; ``key_count`` is kept exact with them, both
# written only under the user's room_keys lock.
room_key_backup_versions = Table(
    "room_key_backup_versions",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("algorithm", Text, nullable=False),
    Column("auth_data", Text, nullable=False),
    Column("etag", BigInteger, nullable=False),
    Column("key_count", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False),
    PrimaryKeyConstraint("user_id", "version"),
)

# The backed-up megolm session keys of each backup version; ``session_data`` is the client's encrypted JSON.
room_key_backup_keys = Table(
    "room_key_backup_keys",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("room_id", Text, nullable=False),
    Column("session_id", Text, nullable=False),
    Column("first_message_index", BigInteger, nullable=False),
    Column("forwarded_count", BigInteger, nullable=False),
    Column("is_verified", Boolean, nullable=False),
    Column("session_data", Text, nullable=False),
    PrimaryKeyConstraint("user_id", "version", "room_id", "session_id"),
)

# Each user's dehydrated device (MSC3814), at most one: a real row in ``devices`` (so to-device messages reach it)
# plus what only its owner may read back, the encrypted ``device_data``. The keys it was uploaded with wait in
# ``device_keys``/``one_time_keys``/``fallback_keys`` (JSON) until they are published with the device keys. Deleting
# the device (any way) deletes this row with it.
dehydrated_devices = Table(
    "dehydrated_devices",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("device_id", Text, nullable=False),
    Column("device_data", Text, nullable=False),
    Column("device_keys", Text, nullable=False),
    Column("one_time_keys", Text, nullable=False),
    Column("fallback_keys", Text, nullable=False),
    ForeignKeyConstraint(["user_id", "device_id"], ["devices.user_id", "devices.device_id"], ondelete="CASCADE"),
)

# Live resharding (tasks/resharding.py): every shard map a sharded family has had, by epoch. Epoch 0 is what the
# config said when the first change was made; the newest epoch is the map in force. ``instances`` is a JSON list.
shard_maps = Table(
    "shard_maps",
    metadata,
    Column("family", Text, nullable=False),
    Column("epoch", Integer, nullable=False),
    Column("instances", Text, nullable=False),
    Column("created_ts", BigInteger, nullable=False),
    PrimaryKeyConstraint("family", "epoch"),
)

# The newest epoch whose fence each instance has passed for a family: its queue then holds nothing routed under an
# older map that it has not run or forwarded. A room's new owner waits for its old owners' fences.
shard_fences = Table(
    "shard_fences",
    metadata,
    Column("family", Text, nullable=False),
    Column("instance", Text, nullable=False),
    Column("epoch", Integer, nullable=False),
    PrimaryKeyConstraint("family", "instance"),
)
