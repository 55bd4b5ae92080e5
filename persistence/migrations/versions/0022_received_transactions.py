"""Federation: the answers given to transactions received from other servers (idempotent ``/send``).

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "received_transactions",
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("transaction_id", sa.Text(), nullable=False),
        sa.Column("response_json", sa.Text(), nullable=False),
        sa.Column("received_ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("origin", "transaction_id", name="pk_received_transactions"),
    )
    op.create_index("ix_received_transactions_received_ts", "received_transactions", ["received_ts"])


def downgrade() -> None:
    op.drop_index("ix_received_transactions_received_ts", table_name="received_transactions")
    op.drop_table("received_transactions")
