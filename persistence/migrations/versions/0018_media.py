"""The media repository: local uploads (including ``mxc://`` URIs created before their content) and thumbnails.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "local_media",
        sa.Column("media_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("created_ts", sa.BigInteger(), nullable=False),
        sa.Column("media_length", sa.BigInteger(), nullable=True),
        sa.Column("media_type", sa.Text(), nullable=True),
        sa.Column("upload_name", sa.Text(), nullable=True),
        sa.Column("sha256", sa.Text(), nullable=True),
        sa.Column("unused_expires_ts", sa.BigInteger(), nullable=True),
        sa.Column("last_access_ts", sa.BigInteger(), nullable=True),
        sa.Column("authenticated", sa.Boolean(), nullable=False),
        sa.Column("quarantined_by", sa.Text(), nullable=True),
        sa.Column("safe_from_quarantine", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("media_id", name="pk_local_media"),
    )
    op.create_index("ix_local_media_user_id_created_ts", "local_media", ["user_id", "created_ts"])
    op.create_table(
        "local_media_thumbnails",
        sa.Column("media_id", sa.Text(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("media_id", "width", "height", "method", "content_type",
                                name="pk_local_media_thumbnails"),
    )


def downgrade() -> None:
    op.drop_table("local_media_thumbnails")
    op.drop_index("ix_local_media_user_id_created_ts", table_name="local_media")
    op.drop_table("local_media")
