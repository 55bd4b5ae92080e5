"""Self-destructing events (MSC2228, ``enable_ephemeral_messages``): when each is due to be pruned; and the user
agent of each device's last request, which ``GET /admin/whois`` reports with its address.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_expiry",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("room_id", sa.Text, nullable=False),
        sa.Column("expiry_ts", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_event_expiry_expiry_ts", "event_expiry", ["expiry_ts"])
    op.add_column("devices", sa.Column("last_seen_user_agent", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("devices", "last_seen_user_agent")
    op.drop_index("ix_event_expiry_expiry_ts", "event_expiry")
    op.drop_table("event_expiry")
