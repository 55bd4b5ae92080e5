"""Rooms users have forgotten (``POST /rooms/{roomId}/forget``).

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
        "forgotten_rooms",
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("room_id", sa.Text, nullable=False),
        sa.Column("membership_event_id", sa.Text, nullable=False),
        sa.Column("forgotten_ts", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "room_id", name="pk_forgotten_rooms"),
    )


def downgrade() -> None:
    op.drop_table("forgotten_rooms")
