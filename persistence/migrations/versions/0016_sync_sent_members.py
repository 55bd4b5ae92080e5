"""The membership events each device has been sent by lazy-loading syncs, in the database so every process shares
them (they lived in one web process's memory, so a sync served by another process re-sent every member).

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_sent_members",
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("device_id", sa.Text, nullable=False),
        sa.Column("room_id", sa.Text, nullable=False),
        sa.Column("member", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("sent_until", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "device_id", "room_id", "member", name="pk_sync_sent_members"),
    )


def downgrade() -> None:
    op.drop_table("sync_sent_members")
