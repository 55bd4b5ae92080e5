"""Sync: uploaded filters, the state event each state event replaced (for prev_content), an index for finding
a user's membership changes by stream position, account data, to-device inboxes, and the id sequences of the
per-user and per-room streams.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

NEW_STREAMS = ("account_data", "typing", "receipts", "to_device", "presence", "push_rules")


def upgrade() -> None:
    op.create_table(
        "user_filters",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("filter_id", sa.BigInteger(), nullable=False),
        sa.Column("filter_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "filter_id", name="pk_user_filters"),
    )
    op.create_index("ix_events_state_key_stream_ordering", "events", ["state_key", "stream_ordering"])
    op.add_column("events", sa.Column("replaces_state", sa.Text(), nullable=True))
    op.create_table(
        "account_data",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("room_id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("stream_id", sa.BigInteger(), nullable=False),
        sa.Column("instance_name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "room_id", "type", name="pk_account_data"),
    )
    op.create_index("ix_account_data_user_id_stream_id", "account_data", ["user_id", "stream_id"])
    op.create_table(
        "device_inbox",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("device_id", sa.Text(), nullable=False),
        sa.Column("stream_id", sa.BigInteger(), nullable=False),
        sa.Column("instance_name", sa.Text(), nullable=False),
        sa.Column("sender", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "device_id", "stream_id", name="pk_device_inbox"),
    )
    op.create_table(
        "to_device_txns",
        sa.Column("sender", sa.Text(), nullable=False),
        sa.Column("sender_device", sa.Text(), nullable=False),
        sa.Column("txn_id", sa.Text(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("created_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sender", "sender_device", "txn_id", "recipient", name="pk_to_device_txns"),
    )
    op.create_index("ix_to_device_txns_created_ts", "to_device_txns", ["created_ts"])
    for stream in NEW_STREAMS:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"CREATE SEQUENCE {stream}_stream_seq")
        else:
            op.execute(f"INSERT INTO stream_counters (stream_name, last_id) VALUES ('{stream}', 0)")


def downgrade() -> None:
    for stream in NEW_STREAMS:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP SEQUENCE {stream}_stream_seq")
        else:
            op.execute(f"DELETE FROM stream_counters WHERE stream_name = '{stream}'")
    op.drop_table("to_device_txns")
    op.drop_table("device_inbox")
    op.drop_table("account_data")
    op.drop_column("events", "replaces_state")
    op.drop_index("ix_events_state_key_stream_ordering", table_name="events")
    op.drop_table("user_filters")
