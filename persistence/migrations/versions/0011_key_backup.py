"""Server-side key backups: each user's backup versions (with their etag and key count) and the session keys
stored in them; each user's dehydrated device (MSC3814).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "room_key_backup_versions",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("algorithm", sa.Text(), nullable=False),
        sa.Column("auth_data", sa.Text(), nullable=False),
        sa.Column("etag", sa.BigInteger(), nullable=False),
        sa.Column("key_count", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "version", name="pk_room_key_backup_versions"),
    )
    op.create_table(
        "room_key_backup_keys",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("room_id", sa.Text(), nullable=False),
        sa.Column("session_id", sa.Text(), nullable=False),
        sa.Column("first_message_index", sa.BigInteger(), nullable=False),
        sa.Column("forwarded_count", sa.BigInteger(), nullable=False),
        sa.Column("is_verified", sa.Boolean(), nullable=False),
        sa.Column("session_data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "version", "room_id", "session_id", name="pk_room_key_backup_keys"),
    )
    op.create_table(
        "dehydrated_devices",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("device_id", sa.Text(), nullable=False),
        sa.Column("device_data", sa.Text(), nullable=False),
        sa.Column("device_keys", sa.Text(), nullable=False),
        sa.Column("one_time_keys", sa.Text(), nullable=False),
        sa.Column("fallback_keys", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["user_id", "device_id"], ["devices.user_id", "devices.device_id"],
                                name="fk_dehydrated_devices_user_id_devices", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name="pk_dehydrated_devices"),
    )


def downgrade() -> None:
    op.drop_table("dehydrated_devices")
    op.drop_table("room_key_backup_keys")
    op.drop_table("room_key_backup_versions")
