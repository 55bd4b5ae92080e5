"""Missed-message email throttles per (user, room), as Synapse throttles per room instead of per pusher.

Revision ID: 0029
Revises: 0028
"""

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "email_throttles",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("room_id", sa.Text(), nullable=False),
        sa.Column("last_sent_ts", sa.BigInteger(), nullable=False),
        sa.Column("throttle_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "room_id", name="pk_email_throttles"),
    )


def downgrade() -> None:
    op.drop_table("email_throttles")
