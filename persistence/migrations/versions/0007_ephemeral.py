"""Ephemeral streams: who is typing in each room.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
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


def downgrade() -> None:
    op.drop_table("typing")
