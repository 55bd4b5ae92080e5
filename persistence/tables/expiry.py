"""Events that destroy themselves (MSC2228, ``org.matrix.self_destruct_after``), with ``enable_ephemeral_messages``.

One row per event still to expire; the events writer of its room prunes the stored event at ``expiry_ts`` and
deletes the row.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Table, Text

from persistence.tables.metadata import metadata

event_expiry = Table(
    "event_expiry",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("room_id", Text, nullable=False),
    Column("expiry_ts", BigInteger, nullable=False),
    # The sweep reads what is due, soonest first.
    Index(None, "expiry_ts"),
)
