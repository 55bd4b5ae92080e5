"""Push: each user's push rules, their changes to the server-default rules, the push_rules stream, and the push
actions the events writer records per recipient and event; an index for where each user last spoke in a room.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_rules",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("rule_id", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("conditions", sa.Text(), nullable=True),
        sa.Column("pattern", sa.Text(), nullable=True),
        sa.Column("actions", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "kind", "rule_id", name="pk_push_rules"),
    )
    op.create_table(
        "push_rule_defaults",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("rule_id", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=True),
        sa.Column("actions", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", "kind", "rule_id", name="pk_push_rule_defaults"),
    )
    op.create_table(
        "push_rules_changes",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("stream_id", sa.BigInteger(), nullable=False),
        sa.Column("instance_name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_push_rules_changes"),
    )
    op.create_table(
        "event_push_actions",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("room_id", sa.Text(), nullable=False),
        sa.Column("stream_ordering", sa.BigInteger(), nullable=False),
        sa.Column("instance_name", sa.Text(), nullable=False),
        sa.Column("thread_id", sa.Text(), nullable=False),
        sa.Column("notify", sa.Boolean(), nullable=False),
        sa.Column("highlight", sa.Boolean(), nullable=False),
        sa.Column("actions", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "event_id", name="pk_event_push_actions"),
    )
    op.create_index("ix_event_push_actions_user_id_room_id_stream_ordering", "event_push_actions",
                    ["user_id", "room_id", "stream_ordering"])
    op.create_index("ix_events_sender_room_id_stream_ordering", "events", ["sender", "room_id", "stream_ordering"])


def downgrade() -> None:
    op.drop_index("ix_events_sender_room_id_stream_ordering", table_name="events")
    op.drop_table("event_push_actions")
    op.drop_table("push_rules_changes")
    op.drop_table("push_rule_defaults")
    op.drop_table("push_rules")
