"""Accounts: users, their profiles and devices, tokens, user-interactive auth and registration."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, ForeignKey, Index, Integer, PrimaryKeyConstraint, Table, Text

from persistence.tables.metadata import metadata

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

# Users who deactivated with ``erase: true``: their events are served redacted to anyone who was not joined to the
# room when the event was sent (Synapse's GDPR erasure, which SyTest checks).
erased_users = Table(
    "erased_users",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("erased_ts", BigInteger, nullable=False),
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
    Column("last_seen_user_agent", Text, nullable=True),
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
