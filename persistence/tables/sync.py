"""What /sync serves besides rooms' timelines: filters, account data and to-device messages."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, PrimaryKeyConstraint, Table, Text

from persistence.tables.metadata import metadata

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

# Which membership event of each room member a device has been sent by lazy-loading syncs (spec: "Lazy-loading
# room members", ``include_redundant_members: false``), so later syncs leave it out. ``sent_until`` is the events
# stream positions of the response that sent it (``[floor, {writer: position}]``): the device provably holds it
# once it syncs from a token at or past them. Shared by every process; written only when a response sends a
# member the device did not hold.
sync_sent_members = Table(
    "sync_sent_members",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("device_id", Text, nullable=False),
    Column("room_id", Text, nullable=False),
    Column("member", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("sent_until", Text, nullable=False),
    PrimaryKeyConstraint("user_id", "device_id", "room_id", "member"),
)
