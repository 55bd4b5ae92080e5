"""End-to-end encryption: device, one-time, fallback and cross-signing keys, key backups, dehydrated devices."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKeyConstraint, PrimaryKeyConstraint, Table, Text

from persistence.tables.metadata import metadata

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
# plus what only its owner may read back, the encrypted ``device_data``. The keys it was uploaded with are in the
# e2e key tables like any device's. Deleting the device (any way) deletes this row with it.
dehydrated_devices = Table(
    "dehydrated_devices",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("device_id", Text, nullable=False),
    Column("device_data", Text, nullable=False),
    ForeignKeyConstraint(["user_id", "device_id"], ["devices.user_id", "devices.device_id"], ondelete="CASCADE"),
)
