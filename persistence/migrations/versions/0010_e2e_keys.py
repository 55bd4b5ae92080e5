"""End-to-end encryption keys: device identity keys, one-time and fallback keys, cross-signing keys and the
signatures uploaded for them.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "e2e_device_keys",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("device_id", sa.Text(), nullable=False),
        sa.Column("key_json", sa.Text(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "device_id", name="pk_e2e_device_keys"),
    )
    op.create_table(
        "e2e_one_time_keys",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("device_id", sa.Text(), nullable=False),
        sa.Column("algorithm", sa.Text(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("key_json", sa.Text(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "device_id", "algorithm", "key_id", name="pk_e2e_one_time_keys"),
    )
    op.create_table(
        "e2e_fallback_keys",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("device_id", sa.Text(), nullable=False),
        sa.Column("algorithm", sa.Text(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("key_json", sa.Text(), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "device_id", "algorithm", name="pk_e2e_fallback_keys"),
    )
    op.create_table(
        "e2e_cross_signing_keys",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("key_type", sa.Text(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("key_json", sa.Text(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "key_type", name="pk_e2e_cross_signing_keys"),
    )
    op.create_table(
        "e2e_cross_signing_signatures",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("target_user_id", sa.Text(), nullable=False),
        sa.Column("target_device_id", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("target_user_id", "target_device_id", "user_id", "key_id",
                                name="pk_e2e_cross_signing_signatures"),
    )


def downgrade() -> None:
    op.drop_table("e2e_cross_signing_signatures")
    op.drop_table("e2e_cross_signing_keys")
    op.drop_table("e2e_fallback_keys")
    op.drop_table("e2e_one_time_keys")
    op.drop_table("e2e_device_keys")
