"""What this server learns from, or hands to, other servers outside room DAGs: OpenID tokens it issued for
``/openid/userinfo``, other servers' media it cached, and the device lists of remote users it tracks."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, PrimaryKeyConstraint, Table, Text

from persistence.tables.metadata import metadata

# A token from POST /user/{userId}/openid/request_token, stored as its SHA-256 digest like every other secret.
openid_tokens = Table(
    "openid_tokens",
    metadata,
    Column("token_digest", Text, primary_key=True),
    Column("user_id", Text, nullable=False),
    Column("valid_until_ts", BigInteger, nullable=False),
    Index(None, "valid_until_ts"),
)

# Another server's media, fetched over federation and kept under remote_content/<origin>/... in media storage.
# A row exists only once its file was committed, so a row always names complete bytes.
remote_media_cache = Table(
    "remote_media_cache",
    metadata,
    Column("media_origin", Text, nullable=False),
    Column("media_id", Text, nullable=False),
    Column("media_type", Text, nullable=False),
    Column("media_length", BigInteger, nullable=False),
    Column("upload_name", Text, nullable=True),
    Column("sha256", Text, nullable=False),
    Column("created_ts", BigInteger, nullable=False),
    Column("last_access_ts", BigInteger, nullable=False),
    PrimaryKeyConstraint("media_origin", "media_id"),
)

# Thumbnails of another server's media as its origin made them, one per requested size and method.
remote_media_thumbnails = Table(
    "remote_media_thumbnails",
    metadata,
    Column("media_origin", Text, nullable=False),
    Column("media_id", Text, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("method", Text, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("length", BigInteger, nullable=False),
    Column("created_ts", BigInteger, nullable=True),  # NULL: cached before times were kept (migration 0028)
    PrimaryKeyConstraint("media_origin", "media_id", "width", "height", "method"),
)

# A remote user whose device list we hold: ``stream_id`` is the origin's latest m.device_list_update stream id we
# applied, so an update whose prev_id we never saw shows a gap and forces a resync through /user/devices.
remote_device_lists = Table(
    "remote_device_lists",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("stream_id", BigInteger, nullable=False),
    Column("updated_ts", BigInteger, nullable=False),
)

# The devices (``keys``: their signed device_keys, canonical JSON; absent for a device without keys) and the
# cross-signing keys (``key_type`` master / self_signing, ``device_id`` empty) of tracked remote users.
remote_devices = Table(
    "remote_devices",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("device_id", Text, nullable=False),
    Column("key_type", Text, nullable=False),
    Column("display_name", Text, nullable=True),
    Column("keys", Text, nullable=True),
    PrimaryKeyConstraint("user_id", "key_type", "device_id"),
)
