"""Federation: the cache of other servers' signing keys.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "server_keys",
        sa.Column("server_name", sa.Text(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("verify_key", sa.Text(), nullable=False),
        sa.Column("valid_until_ts", sa.BigInteger(), nullable=False),
        sa.Column("expired", sa.Boolean(), nullable=False),
        sa.Column("published_valid_until_ts", sa.BigInteger(), nullable=False),
        sa.Column("fetched_ts", sa.BigInteger(), nullable=False),
        sa.Column("fetched_from", sa.Text(), nullable=False),
        sa.Column("key_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("server_name", "key_id", name="pk_server_keys"),
    )


def downgrade() -> None:
    op.drop_table("server_keys")
