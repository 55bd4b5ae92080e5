"""Users who deactivated with ``erase: true`` (``POST /account/deactivate``).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erased_users",
        sa.Column("user_id", sa.Text, primary_key=True),
        sa.Column("erased_ts", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("erased_users")
