"""The media repository: local uploads and the thumbnails made of them. The bytes live in media storage
(``persistence/media``); these rows say what exists, and a file is served only once its row says it is complete."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, PrimaryKeyConstraint, Table, Text

from persistence.tables.metadata import metadata

local_media = Table(
    "local_media",
    metadata,
    Column("media_id", Text, primary_key=True),
    Column("user_id", Text, nullable=True),
    Column("created_ts", BigInteger, nullable=False),
    # Null until the content is uploaded: a row made by POST /_matrix/media/v1/create waits for its bytes.
    Column("media_length", BigInteger, nullable=True),
    Column("media_type", Text, nullable=True),
    Column("upload_name", Text, nullable=True),
    Column("sha256", Text, nullable=True),
    Column("unused_expires_ts", BigInteger, nullable=True),
    Column("last_access_ts", BigInteger, nullable=True),
    # Uploaded while enable_authenticated_media was on: never served by the legacy unauthenticated endpoints.
    Column("authenticated", Boolean, nullable=False, default=False),
    Column("quarantined_by", Text, nullable=True),
    Column("safe_from_quarantine", Boolean, nullable=False, default=False),
    Index(None, "user_id", "created_ts"),
)

local_media_thumbnails = Table(
    "local_media_thumbnails",
    metadata,
    Column("media_id", Text, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("method", Text, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("length", BigInteger, nullable=False),
    # One thumbnail per media, size, method and type: generating it twice (a redelivered task, a request racing
    # the task) keeps the first.
    PrimaryKeyConstraint("media_id", "width", "height", "method", "content_type"),
)
