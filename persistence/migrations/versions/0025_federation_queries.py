"""Federation queries: OpenID tokens, the remote media cache and its thumbnails, remote users' device lists.

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "openid_tokens",
        sa.Column("token_digest", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("valid_until_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("token_digest", name="pk_openid_tokens"),
    )
    op.create_index("ix_openid_tokens_valid_until_ts", "openid_tokens", ["valid_until_ts"])
    op.create_table(
        "remote_media_cache",
        sa.Column("media_origin", sa.Text(), nullable=False),
        sa.Column("media_id", sa.Text(), nullable=False),
        sa.Column("media_type", sa.Text(), nullable=False),
        sa.Column("media_length", sa.BigInteger(), nullable=False),
        sa.Column("upload_name", sa.Text(), nullable=True),
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("created_ts", sa.BigInteger(), nullable=False),
        sa.Column("last_access_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("media_origin", "media_id", name="pk_remote_media_cache"),
    )
    op.create_table(
        "remote_media_thumbnails",
        sa.Column("media_origin", sa.Text(), nullable=False),
        sa.Column("media_id", sa.Text(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("media_origin", "media_id", "width", "height", "method",
                                name="pk_remote_media_thumbnails"),
    )
    op.create_table(
        "remote_device_lists",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("stream_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_remote_device_lists"),
    )
    op.create_table(
        "remote_devices",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("device_id", sa.Text(), nullable=False),
        sa.Column("key_type", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("keys", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", "key_type", "device_id", name="pk_remote_devices"),
    )


def downgrade() -> None:
    op.drop_table("remote_devices")
    op.drop_table("remote_device_lists")
    op.drop_table("remote_media_thumbnails")
    op.drop_table("remote_media_cache")
    op.drop_index("ix_openid_tokens_valid_until_ts", table_name="openid_tokens")
    op.drop_table("openid_tokens")
