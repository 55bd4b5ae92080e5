"""Outbound federation: what each destination server is still owed, and how it answered last.

``federation_destinations``: one row per server we have sent to. ``retry_at_ts``/``retry_interval_ms``/``failures``
are its backoff (Synapse's "destination retry timings"); ``claimed_until_ts`` is the claim of the one sender talking
to it (one transaction in flight per destination); ``catching_up`` means it missed PDUs while unreachable, so it gets
the latest events of each room it is owed (``federation_destination_rooms``) instead of its queue; ``next_txn`` numbers
its transactions.

``federation_outbound_queue``: PDUs (by event id) and EDUs (as JSON) waiting for a destination, in order of ``id``.
``coalesce_key`` names an EDU that a newer one replaces while both wait (a user's typing in a room, a user's presence).

``federation_transactions``: the transaction in flight to a destination, fixed (id and body) before it is first sent,
so whatever happens to the sender it is only ever sent again as it was. ``queue_ids`` and ``catch_up`` (JSON) say what
to forget once the destination acknowledges it.

``federation_destination_rooms``: per destination and room, the latest local event it was due, and whether it still
needs it after an outage (``needs_catch_up``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, PrimaryKeyConstraint, Table, Text

from persistence.tables.metadata import metadata

federation_destinations = Table(
    "federation_destinations",
    metadata,
    Column("destination", Text, primary_key=True),
    Column("retry_at_ts", BigInteger, nullable=True),
    Column("retry_interval_ms", BigInteger, nullable=False, server_default="0"),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("claimed_until_ts", BigInteger, nullable=True),
    Column("catching_up", Boolean, nullable=False),
    Column("next_txn", BigInteger, nullable=False, server_default="1"),
    Column("last_success_ts", BigInteger, nullable=True),
)

federation_outbound_queue = Table(
    "federation_outbound_queue",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("destination", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("room_id", Text, nullable=True),
    Column("event_id", Text, nullable=True),
    Column("edu_json", Text, nullable=True),
    Column("coalesce_key", Text, nullable=True),
    Column("queued_ts", BigInteger, nullable=False),
    Index("ix_federation_outbound_queue_destination_id", "destination", "id"),
)

federation_transactions = Table(
    "federation_transactions",
    metadata,
    Column("destination", Text, primary_key=True),
    Column("txn_id", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("queue_ids", Text, nullable=False),
    Column("catch_up", Text, nullable=False),
    Column("created_ts", BigInteger, nullable=False),
)

federation_destination_rooms = Table(
    "federation_destination_rooms",
    metadata,
    Column("destination", Text, nullable=False),
    Column("room_id", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("stream_ordering", BigInteger, nullable=False),
    Column("needs_catch_up", Boolean, nullable=False),
    PrimaryKeyConstraint("destination", "room_id"),
)
