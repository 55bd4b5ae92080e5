"""Outbound federation: per-destination queues, the transaction in flight, backoff and catch-up state.

Revision ID: 0024
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "federation_destinations",
        sa.Column("destination", sa.Text(), nullable=False),
        sa.Column("retry_at_ts", sa.BigInteger(), nullable=True),
        sa.Column("retry_interval_ms", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("claimed_until_ts", sa.BigInteger(), nullable=True),
        sa.Column("catching_up", sa.Boolean(), nullable=False),
        sa.Column("next_txn", sa.BigInteger(), server_default="1", nullable=False),
        sa.Column("last_success_ts", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("destination", name="pk_federation_destinations"),
    )
    op.create_table(
        "federation_outbound_queue",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("destination", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("room_id", sa.Text(), nullable=True),
        sa.Column("event_id", sa.Text(), nullable=True),
        sa.Column("edu_json", sa.Text(), nullable=True),
        sa.Column("coalesce_key", sa.Text(), nullable=True),
        sa.Column("queued_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_federation_outbound_queue"),
    )
    op.create_index("ix_federation_outbound_queue_destination_id", "federation_outbound_queue",
                    ["destination", "id"])
    op.create_table(
        "federation_transactions",
        sa.Column("destination", sa.Text(), nullable=False),
        sa.Column("txn_id", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("queue_ids", sa.Text(), nullable=False),
        sa.Column("catch_up", sa.Text(), nullable=False),
        sa.Column("created_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("destination", name="pk_federation_transactions"),
    )
    op.create_table(
        "federation_destination_rooms",
        sa.Column("destination", sa.Text(), nullable=False),
        sa.Column("room_id", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("stream_ordering", sa.BigInteger(), nullable=False),
        sa.Column("needs_catch_up", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("destination", "room_id", name="pk_federation_destination_rooms"),
    )


def downgrade() -> None:
    op.drop_table("federation_destination_rooms")
    op.drop_table("federation_transactions")
    op.drop_index("ix_federation_outbound_queue_destination_id", table_name="federation_outbound_queue")
    op.drop_table("federation_outbound_queue")
    op.drop_table("federation_destinations")
