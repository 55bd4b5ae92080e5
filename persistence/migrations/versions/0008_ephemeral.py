"""Ephemeral streams: who is typing in each room, the latest receipt per room, user, type and thread, and each
user's presence.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "typing",
        sa.Column("room_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("expires_ts", sa.BigInteger(), nullable=False),
        sa.Column("stream_id", sa.BigInteger(), nullable=False),
        sa.Column("instance_name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("room_id", "user_id", name="pk_typing"),
    )
    op.create_index("ix_typing_room_id_stream_id", "typing", ["room_id", "stream_id"])
    op.create_index("ix_typing_expires_ts", "typing", ["expires_ts"])
    op.create_table(
        "receipts",
        sa.Column("room_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("receipt_type", sa.Text(), nullable=False),
        sa.Column("thread_id", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event_stream_ordering", sa.BigInteger(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("stream_id", sa.BigInteger(), nullable=False),
        sa.Column("instance_name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("room_id", "user_id", "receipt_type", "thread_id", name="pk_receipts"),
    )
    op.create_index("ix_receipts_room_id_stream_id", "receipts", ["room_id", "stream_id"])
    op.create_table(
        "presence",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("status_msg", sa.Text(), nullable=True),
        sa.Column("last_active_ts", sa.BigInteger(), nullable=False),
        sa.Column("syncing_until_ts", sa.BigInteger(), nullable=False),
        sa.Column("stream_id", sa.BigInteger(), nullable=False),
        sa.Column("instance_name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_presence"),
    )
    op.create_index("ix_presence_stream_id", "presence", ["stream_id"])
    op.create_index("ix_presence_state", "presence", ["state"])


def downgrade() -> None:
    op.drop_table("presence")
    op.drop_table("receipts")
    op.drop_table("typing")
