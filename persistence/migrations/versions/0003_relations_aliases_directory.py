"""Redactions, relations, room aliases, the room directory and reports.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "redactions",
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("redacts", sa.Text, nullable=False),
        sa.Column("room_id", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_redactions"),
    )
    op.create_index("ix_redactions_redacts", "redactions", ["redacts"])
    op.create_table(
        "event_relations",
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("room_id", sa.Text, nullable=False),
        sa.Column("relates_to_id", sa.Text, nullable=False),
        sa.Column("relation_type", sa.Text, nullable=False),
        sa.Column("aggregation_key", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("event_id", name="pk_event_relations"),
    )
    op.create_index("ix_event_relations_relates_to_id_relation_type", "event_relations",
                    ["relates_to_id", "relation_type"])
    op.create_table(
        "room_aliases",
        sa.Column("room_alias", sa.Text, nullable=False),
        sa.Column("room_id", sa.Text, nullable=False),
        sa.Column("creator", sa.Text, nullable=False),
        sa.Column("created_ts", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("room_alias", name="pk_room_aliases"),
    )
    op.create_index("ix_room_aliases_room_id", "room_aliases", ["room_id"])
    op.create_table(
        "room_directory",
        sa.Column("room_id", sa.Text, nullable=False),
        sa.Column("published_ts", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("room_id", name="pk_room_directory"),
    )
    op.create_table(
        "event_reports",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("room_id", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=True),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("score", sa.Integer, nullable=True),
        sa.Column("received_ts", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_event_reports"),
    )


def downgrade() -> None:
    for table in ("event_reports", "room_directory", "room_aliases", "event_relations", "redactions"):
        op.drop_table(table)
