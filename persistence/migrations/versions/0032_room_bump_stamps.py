"""Each room's latest bump event, kept by the events writer for sliding sync's recency sort.

Filled from the events already stored: per room, the latest accepted timeline event of a bump type (the types of
``protocol/sliding_sync/lists.py`` at the time of writing; a migration does not follow later changes to them).

Revision ID: 0032
Revises: 0029
"""

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0029"
branch_labels = None
depends_on = None

BUMP_TYPES = ("m.room.create", "m.room.message", "m.room.encrypted", "m.sticker", "m.call.invite", "m.poll.start",
              "m.beacon_info")


def upgrade() -> None:
    op.create_table(
        "room_bump_stamps",
        sa.Column("room_id", sa.Text(), nullable=False),
        sa.Column("stream_ordering", sa.BigInteger(), nullable=False),
        sa.Column("instance_name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("room_id", name="pk_room_bump_stamps"),
    )
    types = ", ".join(f"'{kind}'" for kind in BUMP_TYPES)
    op.execute(f"""
        INSERT INTO room_bump_stamps (room_id, stream_ordering, instance_name)
        SELECT events.room_id, events.stream_ordering, events.instance_name FROM events
        JOIN (SELECT room_id, MAX(stream_ordering) AS latest FROM events
              WHERE type IN ({types}) AND rejected_reason IS NULL AND NOT outlier GROUP BY room_id) AS bumps
          ON bumps.room_id = events.room_id AND bumps.latest = events.stream_ordering
    """)


def downgrade() -> None:
    op.drop_table("room_bump_stamps")
