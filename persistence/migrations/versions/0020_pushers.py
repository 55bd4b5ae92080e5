"""Pushers: where each user's push notifications go, and how far each has been sent.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pushers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("device_id", sa.Text(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("app_id", sa.Text(), nullable=False),
        sa.Column("pushkey", sa.Text(), nullable=False),
        sa.Column("app_display_name", sa.Text(), nullable=False),
        sa.Column("device_display_name", sa.Text(), nullable=False),
        sa.Column("profile_tag", sa.Text(), nullable=True),
        sa.Column("lang", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("pushkey_ts", sa.BigInteger(), nullable=False),
        sa.Column("positions", sa.Text(), nullable=False),
        sa.Column("retry_at_ts", sa.BigInteger(), nullable=True),
        sa.Column("claimed_until_ts", sa.BigInteger(), nullable=True),
        sa.Column("last_badge", sa.Integer(), nullable=True),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pushers"),
        sa.UniqueConstraint("app_id", "pushkey", "user_id", name="uq_pushers_app_id_pushkey_user_id"),
    )
    op.create_index("ix_pushers_user_id", "pushers", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_pushers_user_id", table_name="pushers")
    op.drop_table("pushers")
