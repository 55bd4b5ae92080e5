"""Federation: the signing keys of other servers we fetched, directly or through a notary."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, PrimaryKeyConstraint, Table, Text

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
