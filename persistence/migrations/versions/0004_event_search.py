"""Full-text search over events: the event_search table and each database's own full-text index.

PostgreSQL: a GIN index on ``to_tsvector('english', value)``, which the search queries repeat verbatim so the
planner uses it. SQLite: an FTS5 table with ``event_search`` as its external content (rowid = stream ordering),
kept in step by triggers, so the events writer inserts one row on either database.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_STREAM = sa.BigInteger().with_variant(sa.Integer, "sqlite")

_SQLITE_FTS = (
    "CREATE VIRTUAL TABLE event_search_fts USING fts5(value, content='event_search', "
    "content_rowid='stream_ordering', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER event_search_fts_insert AFTER INSERT ON event_search BEGIN "
    "INSERT INTO event_search_fts(rowid, value) VALUES (new.stream_ordering, new.value); END",
    "CREATE TRIGGER event_search_fts_delete AFTER DELETE ON event_search BEGIN "
    "INSERT INTO event_search_fts(event_search_fts, rowid, value) VALUES ('delete', old.stream_ordering, old.value); "
    "END",
    "CREATE TRIGGER event_search_fts_update AFTER UPDATE ON event_search BEGIN "
    "INSERT INTO event_search_fts(event_search_fts, rowid, value) VALUES ('delete', old.stream_ordering, old.value); "
    "INSERT INTO event_search_fts(rowid, value) VALUES (new.stream_ordering, new.value); END",
)


def upgrade() -> None:
    op.create_table(
        "event_search",
        sa.Column("stream_ordering", _STREAM, autoincrement=False, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("room_id", sa.Text, nullable=False),
        sa.Column("sender", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("origin_server_ts", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("stream_ordering", name="pk_event_search"),
    )
    op.create_index("ix_event_search_room_id_stream_ordering", "event_search", ["room_id", "stream_ordering"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_event_search_value_tsvector ON event_search "
                   "USING gin (to_tsvector('english', value))")
    else:
        for statement in _SQLITE_FTS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE event_search_fts")
    op.drop_table("event_search")
