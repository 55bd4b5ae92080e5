"""Accounts, devices, tokens, user-interactive auth, the outbox, stream bookkeeping, device lists, user directory.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("user_id", sa.Text, primary_key=True),
        sa.Column("password_hash", sa.Text, nullable=True),
        sa.Column("created_ts", sa.BigInteger, nullable=False),
        sa.Column("is_guest", sa.Boolean, nullable=False),
        sa.Column("admin", sa.Boolean, nullable=False),
        sa.Column("user_type", sa.Text, nullable=True),
        sa.Column("deactivated", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_users"),
    )
    op.create_table(
        "profiles",
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("displayname", sa.Text, nullable=True),
        sa.Column("avatar_url", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("user_id", name="pk_profiles"),
        sa.ForeignKeyConstraint(["user_id"], ["users.user_id"], name="fk_profiles_user_id_users"),
    )
    op.create_table(
        "devices",
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("device_id", sa.Text, nullable=False),
        sa.Column("display_name", sa.Text, nullable=True),
        sa.Column("created_ts", sa.BigInteger, nullable=False),
        sa.Column("last_seen_ts", sa.BigInteger, nullable=True),
        sa.Column("last_seen_ip", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("user_id", "device_id", name="pk_devices"),
        sa.ForeignKeyConstraint(["user_id"], ["users.user_id"], name="fk_devices_user_id_users"),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("device_id", sa.Text, nullable=False),
        sa.Column("expiry_ts", sa.BigInteger, nullable=True),
        sa.Column("session_expiry_ts", sa.BigInteger, nullable=True),
        sa.Column("next_token_id", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_refresh_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_refresh_tokens_token_hash"),
    )
    op.create_index("ix_refresh_tokens_user_id_device_id", "refresh_tokens", ["user_id", "device_id"])
    op.create_table(
        "access_tokens",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("device_id", sa.Text, nullable=False),
        sa.Column("created_ts", sa.BigInteger, nullable=False),
        sa.Column("valid_until_ts", sa.BigInteger, nullable=True),
        sa.Column("refresh_token_id", sa.BigInteger, nullable=True),
        sa.Column("used", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_access_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_access_tokens_token_hash"),
    )
    op.create_index("ix_access_tokens_user_id_device_id", "access_tokens", ["user_id", "device_id"])
    op.create_table(
        "ui_auth_sessions",
        sa.Column("session_id", sa.Text, nullable=False),
        sa.Column("created_ts", sa.BigInteger, nullable=False),
        sa.Column("operation", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text, nullable=True),
        sa.Column("completed", sa.JSON, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_ui_auth_sessions"),
    )
    op.create_table(
        "registration_tokens",
        sa.Column("token", sa.Text, nullable=False),
        sa.Column("uses_allowed", sa.Integer, nullable=True),
        sa.Column("pending", sa.Integer, nullable=False),
        sa.Column("completed", sa.Integer, nullable=False),
        sa.Column("expiry_time", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("token", name="pk_registration_tokens"),
    )
    op.create_table(
        "admin_register_nonces",
        sa.Column("nonce", sa.Text, nullable=False),
        sa.Column("created_ts", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("nonce", name="pk_admin_register_nonces"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("family", sa.Text, nullable=False),
        sa.Column("shard_key", sa.Text, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_ts", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index("ix_outbox_family_shard_key_id", "outbox", ["family", "shard_key", "id"])
    op.create_table(
        "stream_positions",
        sa.Column("stream_name", sa.Text, nullable=False),
        sa.Column("instance_name", sa.Text, nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("stream_name", "instance_name", name="pk_stream_positions"),
    )
    op.create_table(
        "stream_counters",
        sa.Column("stream_name", sa.Text, nullable=False),
        sa.Column("last_id", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("stream_name", name="pk_stream_counters"),
    )
    op.create_table(
        "device_lists_stream",
        sa.Column("stream_id", sa.BigInteger, nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("device_id", sa.Text, nullable=False),
        sa.Column("instance_name", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("stream_id", "user_id", "device_id", name="pk_device_lists_stream"),
    )
    op.create_index("ix_device_lists_stream_user_id_stream_id", "device_lists_stream", ["user_id", "stream_id"])
    op.create_table(
        "user_directory",
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("display_name", sa.Text, nullable=True),
        sa.Column("avatar_url", sa.Text, nullable=True),
        sa.Column("updated_ts", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_user_directory"),
    )
    _create_stream_sequence("device_lists")


def _create_stream_sequence(stream: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE SEQUENCE {stream}_stream_seq")
    else:
        op.execute(f"INSERT INTO stream_counters (stream_name, last_id) VALUES ('{stream}', 0)")


def downgrade() -> None:
    for table in (
        "user_directory", "device_lists_stream", "stream_counters", "stream_positions", "outbox",
        "admin_register_nonces", "registration_tokens", "ui_auth_sessions", "access_tokens", "refresh_tokens",
        "devices", "profiles", "users",
    ):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE device_lists_stream_seq")
