"""An index for ``GET /notifications``: a user's push actions newest first, paged by stream ordering, without
reading every row of theirs (the existing index leads with the room).

Revision ID: 0017
Revises: 0016
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_event_push_actions_user_id_stream_ordering", "event_push_actions",
                    ["user_id", "stream_ordering"])


def downgrade() -> None:
    op.drop_index("ix_event_push_actions_user_id_stream_ordering", table_name="event_push_actions")
