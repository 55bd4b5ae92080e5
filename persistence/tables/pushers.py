"""Pushers (Client-Server API, "Push Notifications"): where a user's notifications are sent, one row per
(app_id, pushkey, user)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, PrimaryKeyConstraint, Table, Text, UniqueConstraint

from persistence.tables.metadata import metadata

# ``data`` is the client's ``data`` object as JSON. ``device_id`` is the device of the access token that set the
# pusher: deleting that device removes it, as Synapse does. ``positions`` is the events stream position (per
# writer, as a sync token holds it) up to which this pusher has been sent its notifications; the pusher task
# advances it in the transaction that records each delivery, and ``claimed_until_ts`` is its claim
# while it talks to the gateway outside any transaction. ``last_badge`` is the ``counts.unread`` it was last sent,
# so a read receipt that leaves the badge as it was sends nothing. ``retry_at_ts``/``failures`` hold the backoff of a
# gateway that failed.
pushers = Table(
    "pushers",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("user_id", Text, nullable=False),
    Column("device_id", Text, nullable=True),
    Column("kind", Text, nullable=False),
    Column("app_id", Text, nullable=False),
    Column("pushkey", Text, nullable=False),
    Column("app_display_name", Text, nullable=False),
    Column("device_display_name", Text, nullable=False),
    Column("profile_tag", Text, nullable=True),
    Column("lang", Text, nullable=False),
    Column("data", Text, nullable=False),
    Column("pushkey_ts", BigInteger, nullable=False),
    Column("positions", Text, nullable=False),
    Column("retry_at_ts", BigInteger, nullable=True),
    Column("claimed_until_ts", BigInteger, nullable=True),
    Column("last_badge", Integer, nullable=True),
    Column("failures", Integer, nullable=False, server_default="0"),
    UniqueConstraint("app_id", "pushkey", "user_id", name="uq_pushers_app_id_pushkey_user_id"),
    Index("ix_pushers_user_id", "user_id"),
)

# Missed-message email throttles, one per (user, room) as Synapse throttles per room (``pusher_throttle``): after
# an email listing a room, the room cannot start another email until ``last_sent_ts + throttle_ms`` (the throttle
# grows with each email and starts again after a quiet spell; ``tasks/email_pushers.py``).
email_throttles = Table(
    "email_throttles",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("room_id", Text, nullable=False),
    Column("last_sent_ts", BigInteger, nullable=False),
    Column("throttle_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("user_id", "room_id"),
)
