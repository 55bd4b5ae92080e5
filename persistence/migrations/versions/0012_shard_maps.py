"""Live resharding: the versioned shard map of each sharded queue family and the fence each instance has passed.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shard_maps",
        sa.Column("family", sa.Text(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("instances", sa.Text(), nullable=False),
        sa.Column("created_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("family", "epoch", name="pk_shard_maps"),
    )
    op.create_table(
        "shard_fences",
        sa.Column("family", sa.Text(), nullable=False),
        sa.Column("instance", sa.Text(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("family", "instance", name="pk_shard_fences"),
    )


def downgrade() -> None:
    op.drop_table("shard_fences")
    op.drop_table("shard_maps")
