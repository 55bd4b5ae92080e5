"""When each cached remote thumbnail was fetched, so purging the remote media cache (the admin API,
``media_retention.remote_media_lifetime``) can drop old thumbnails of media whose original we never cached.

Revision ID: 0028
Revises: 0027
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows from before this revision have no time: NULL, and the next purge treats them as old.
    with op.batch_alter_table("remote_media_thumbnails") as batch:
        batch.add_column(sa.Column("created_ts", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("remote_media_thumbnails") as batch:
        batch.drop_column("created_ts")
