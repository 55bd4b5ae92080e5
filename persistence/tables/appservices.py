"""Application services' delivery state (Application Service API, "Pushing events"): one row per appservice."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, Table, Text

from persistence.tables.metadata import metadata

# ``positions`` is how far the appservice has been sent each stream it follows, as JSON ``{stream: positions}``
# (a :class:`~protocol.sync_tokens.WriterPositions` per stream, encoded as in ``pushers``). ``last_txn_id`` is the
# last transaction id handed out. A transaction is written to ``pending_body`` (with the positions it reaches in
# ``pending_positions``) before it is sent and cleared when the appservice acknowledged it, so a retry after a
# failure or a crash resends the same body under the same id: the appservice deduplicates by id (spec). The
# delivery holds ``claimed_until_ts`` while it talks to the appservice outside any transaction;
# ``retry_at_ts``/``failures`` are the backoff of an appservice that failed.
appservice_states = Table(
    "appservice_states",
    metadata,
    Column("appservice_id", Text, primary_key=True),
    Column("positions", Text, nullable=False),
    Column("last_txn_id", BigInteger, nullable=False, server_default="0"),
    Column("pending_body", Text, nullable=True),
    Column("pending_positions", Text, nullable=True),
    Column("claimed_until_ts", BigInteger, nullable=True),
    Column("retry_at_ts", BigInteger, nullable=True),
    Column("failures", Integer, nullable=False, server_default="0"),
)

# Application services' own room lists (Synapse's ``appservice_room_list``): a bridge publishes rooms under one
# of its networks, listed by ``POST /publicRooms`` with ``third_party_instance_id`` ``{appservice_id}|{network_id}``
# or ``include_all_networks``, apart from the server's main directory.
appservice_room_list = Table(
    "appservice_room_list",
    metadata,
    Column("appservice_id", Text, primary_key=True),
    Column("network_id", Text, primary_key=True),
    Column("room_id", Text, primary_key=True),
)
