"""The task ledger: every task id whose outcome is fixed, so a redelivered or replayed message changes nothing.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "processed_tasks",
        sa.Column("task_id", sa.Text(), nullable=False),
        sa.Column("task_name", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("envelope", sa.Text(), nullable=True),
        sa.Column("recorded_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("task_id", name="pk_processed_tasks"),
    )
    op.create_index("processed_tasks_recorded_ts", "processed_tasks", ["recorded_ts"])


def downgrade() -> None:
    op.drop_index("processed_tasks_recorded_ts", table_name="processed_tasks")
    op.drop_table("processed_tasks")
