"""Simplified sliding sync connections and their response positions (MSC4186).

Revision ID: 0027
Revises: 0026
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sliding_sync_connections",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("device_id", sa.Text(), nullable=False),
        sa.Column("conn_id", sa.Text(), nullable=False),
        sa.Column("created_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sliding_sync_connections"),
        sa.UniqueConstraint("user_id", "device_id", "conn_id",
                            name="uq_sliding_sync_connections_user_id_device_id_conn_id"),
    )
    op.create_table(
        "sliding_sync_positions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("connection_id", sa.BigInteger(), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("rooms", sa.Text(), nullable=False),
        sa.Column("created_ts", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["sliding_sync_connections.id"], ondelete="CASCADE",
                                name="fk_sliding_sync_positions_connection_id"),
        sa.PrimaryKeyConstraint("id", name="pk_sliding_sync_positions"),
    )
    op.create_index("ix_sliding_sync_positions_connection_id", "sliding_sync_positions", ["connection_id"])


def downgrade() -> None:
    op.drop_index("ix_sliding_sync_positions_connection_id", table_name="sliding_sync_positions")
    op.drop_table("sliding_sync_positions")
    op.drop_table("sliding_sync_connections")
