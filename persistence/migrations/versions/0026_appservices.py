"""Application services: each one's delivery position, transaction id and transaction in flight; their own room
lists.

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "appservice_states",
        sa.Column("appservice_id", sa.Text(), nullable=False),
        sa.Column("positions", sa.Text(), nullable=False),
        sa.Column("last_txn_id", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("pending_body", sa.Text(), nullable=True),
        sa.Column("pending_positions", sa.Text(), nullable=True),
        sa.Column("claimed_until_ts", sa.BigInteger(), nullable=True),
        sa.Column("retry_at_ts", sa.BigInteger(), nullable=True),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("appservice_id", name="pk_appservice_states"),
    )
    op.create_table(
        "appservice_room_list",
        sa.Column("appservice_id", sa.Text(), nullable=False),
        sa.Column("network_id", sa.Text(), nullable=False),
        sa.Column("room_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("appservice_id", "network_id", "room_id", name="pk_appservice_room_list"),
    )


def downgrade() -> None:
    op.drop_table("appservice_room_list")
    op.drop_table("appservice_states")
