"""Rooms, the event graph, state groups, current state and client transaction ids.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "rooms",
        sa.Column("room_id", sa.Text, nullable=False),
        sa.Column("room_version", sa.Text, nullable=False),
        sa.Column("creator", sa.Text, nullable=False),
        sa.Column("created_ts", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("room_id", name="pk_rooms"),
    )
    op.create_table(
        "events",
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("room_id", sa.Text, nullable=False),
        sa.Column("stream_ordering", sa.BigInteger, nullable=False),
        sa.Column("depth", sa.BigInteger, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("state_key", sa.Text, nullable=True),
        sa.Column("sender", sa.Text, nullable=False),
        sa.Column("origin_server_ts", sa.BigInteger, nullable=False),
        sa.Column("instance_name", sa.Text, nullable=False),
        sa.Column("json", sa.Text, nullable=False),
        sa.Column("rejected_reason", sa.Text, nullable=True),
        sa.Column("outlier", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_events"),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.room_id"], name="fk_events_room_id_rooms"),
        sa.UniqueConstraint("stream_ordering", name="uq_events_stream_ordering"),
    )
    op.create_index("ix_events_room_id_stream_ordering", "events", ["room_id", "stream_ordering"])
    op.create_index("ix_events_room_id_depth_stream_ordering", "events", ["room_id", "depth", "stream_ordering"])
    op.create_table(
        "event_edges",
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("prev_event_id", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("event_id", "prev_event_id", name="pk_event_edges"),
    )
    op.create_index("ix_event_edges_prev_event_id", "event_edges", ["prev_event_id"])
    op.create_table(
        "event_auth",
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("auth_event_id", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("event_id", "auth_event_id", name="pk_event_auth"),
    )
    op.create_table(
        "event_forward_extremities",
        sa.Column("room_id", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("room_id", "event_id", name="pk_event_forward_extremities"),
    )
    op.create_table(
        "state_groups",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("room_id", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("prev_group", sa.BigInteger, nullable=True),
        sa.Column("chain_length", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_state_groups"),
    )
    op.create_table(
        "state_group_entries",
        sa.Column("state_group", sa.BigInteger, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("state_key", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("state_group", "type", "state_key", name="pk_state_group_entries"),
    )
    op.create_table(
        "event_state_groups",
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("state_group", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_event_state_groups"),
    )
    op.create_table(
        "current_state_events",
        sa.Column("room_id", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("state_key", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("membership", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("room_id", "type", "state_key", name="pk_current_state_events"),
    )
    op.create_index("ix_current_state_events_state_key_membership", "current_state_events",
                    ["state_key", "membership"])
    op.create_table(
        "event_txn_ids",
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("device_id", sa.Text, nullable=False),
        sa.Column("room_id", sa.Text, nullable=False),
        sa.Column("txn_id", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("created_ts", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "device_id", "room_id", "txn_id", name="pk_event_txn_ids"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE events_stream_seq")
    else:
        op.execute("INSERT INTO stream_counters (stream_name, last_id) VALUES ('events', 0)")


def downgrade() -> None:
    for table in (
        "event_txn_ids", "current_state_events", "event_state_groups", "state_group_entries", "state_groups",
        "event_forward_extremities", "event_auth", "event_edges", "events", "rooms",
    ):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE events_stream_seq")
    else:
        op.execute("DELETE FROM stream_counters WHERE stream_name = 'events'")
