"""Live resharding (tasks/resharding.py): shard maps by epoch and each instance's fence."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, PrimaryKeyConstraint, Table, Text

from persistence.tables.metadata import metadata

# Live resharding (tasks/resharding.py): every shard map a sharded family has had, by epoch. Epoch 0 is what the
# config said when the first change was made; the newest epoch is the map in force. ``instances`` is a JSON list.
shard_maps = Table(
    "shard_maps",
    metadata,
    Column("family", Text, nullable=False),
    Column("epoch", Integer, nullable=False),
    Column("instances", Text, nullable=False),
    Column("created_ts", BigInteger, nullable=False),
    PrimaryKeyConstraint("family", "epoch"),
)

# The newest epoch whose fence each instance has passed for a family: its queue then holds nothing routed under an
# older map that it has not run or forwarded. A room's new owner waits for its old owners' fences.
shard_fences = Table(
    "shard_fences",
    metadata,
    Column("family", Text, nullable=False),
    Column("instance", Text, nullable=False),
    Column("epoch", Integer, nullable=False),
    PrimaryKeyConstraint("family", "instance"),
)
