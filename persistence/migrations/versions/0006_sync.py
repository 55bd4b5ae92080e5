"""Sync: uploaded filters, and an index for finding a user's membership changes by stream position.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_filters",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("filter_id", sa.BigInteger(), nullable=False),
        sa.Column("filter_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "filter_id", name="pk_user_filters"),
    )
    op.create_index("ix_events_state_key_stream_ordering", "events", ["state_key", "stream_ordering"])


def downgrade() -> None:
    op.drop_index("ix_events_state_key_stream_ordering", table_name="events")
    op.drop_table("user_filters")
