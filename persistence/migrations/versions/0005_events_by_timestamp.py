"""An index for /timestamp_to_event, which looks events up by room and origin_server_ts.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_room_id_origin_server_ts", "events", ["room_id", "origin_server_ts"])


def downgrade() -> None:
    op.drop_index("ix_events_room_id_origin_server_ts", table_name="events")
