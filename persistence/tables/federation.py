"""Federation: the signing keys of other servers we fetched, directly or through a notary."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, PrimaryKeyConstraint, Table, Text

from persistence.tables.metadata import metadata

# One row per remote server key. ``valid_until_ts`` is when signatures by it stop being accepted (already capped
# at fetch + 7 days; for an old key, its expired_ts). ``key_json`` is the whole signed response that published it,
# canonical JSON, kept so our notary endpoints can hand it on with the origin's own signature intact.
server_keys = Table(
    "server_keys",
    metadata,
    Column("server_name", Text, nullable=False),
    Column("key_id", Text, nullable=False),
    Column("verify_key", Text, nullable=False),
    Column("valid_until_ts", BigInteger, nullable=False),
    Column("expired", Boolean, nullable=False),
    Column("published_valid_until_ts", BigInteger, nullable=False),
    Column("fetched_ts", BigInteger, nullable=False),
    Column("fetched_from", Text, nullable=False),
    Column("key_json", Text, nullable=False),
    PrimaryKeyConstraint("server_name", "key_id"),
)

# Transactions received from other servers (``PUT /_matrix/federation/v1/send/{txnId}``): the answer we gave, kept
# so a retried transaction (same origin, same id) gets the same answer without its PDUs being processed again
# (Server-Server API, "Transactions"). Written by the web tier, which receives them; not a stream.
received_transactions = Table(
    "received_transactions",
    metadata,
    Column("origin", Text, nullable=False),
    Column("transaction_id", Text, nullable=False),
    Column("response_json", Text, nullable=False),
    Column("received_ts", BigInteger, nullable=False),
    PrimaryKeyConstraint("origin", "transaction_id"),
    Index(None, "received_ts"),
)
