"""Push: each user's push rules, their changes to the server-default rules, and the push_rules stream.

Revision ID: 0008
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
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


def downgrade() -> None:
    op.drop_table("push_rules_changes")
    op.drop_table("push_rule_defaults")
    op.drop_table("push_rules")
