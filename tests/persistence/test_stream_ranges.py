"""Per-writer ranges: readers moving token to token see every row exactly once, however writers interleave.

Several writers take ids from one sequence and commit when they like (each in its own id order, as
``StreamIds.allocate`` enforces); a reader's token is each writer's committed position at the moment it looks.
"""

from __future__ import annotations

import random

import pytest
from sqlalchemy import insert, select

from persistence.database import Database
from persistence.stream_ranges import between
from persistence.tables import events, rooms
from protocol.sync_tokens import WriterPositions

WRITERS = ("persister1", "persister2", "persister3")


def _commit(database: Database, stream: int, writer: str) -> None:
    with database.write() as conn:
        conn.execute(insert(events).values(
            event_id=f"$e{stream}", room_id="!r:x", stream_ordering=stream, depth=stream, type="m.room.message",
            state_key=None, sender="@a:x", origin_server_ts=0, instance_name=writer, json="{}", outlier=False))


def _seen(database: Database, since: WriterPositions | None, until: WriterPositions) -> list[int]:
    with database.read() as conn:
        rows = conn.execute(select(events.c.stream_ordering).where(
            between(events.c.instance_name, events.c.stream_ordering, since, until)))
        return sorted(int(row[0]) for row in rows)


@pytest.mark.parametrize("seed", range(3))
def test_readers_see_every_row_once_across_out_of_order_commits(database: Database, seed: int) -> None:
    chance = random.Random(seed)
    with database.write() as conn:
        conn.execute(insert(rooms).values(room_id="!r:x", room_version="10", creator="@a:x", created_ts=0))
    pending: dict[str, list[int]] = {writer: [] for writer in WRITERS}
    committed = {writer: 0 for writer in WRITERS}  # each writer caught up when it started (StreamIds)
    readers: list[WriterPositions | None] = [None, None]
    seen: list[list[int]] = [[], []]
    for stream in range(1, 61):
        pending[chance.choice(WRITERS)].append(stream)  # allocated now, committed later in the writer's order
        for writer in WRITERS:
            while pending[writer] and chance.random() < 0.4:
                position = pending[writer].pop(0)
                _commit(database, position, writer)
                committed[writer] = position
        reader = chance.randrange(2)
        until = WriterPositions.of_writers(committed)
        seen[reader].extend(_seen(database, readers[reader], until))
        readers[reader] = until
    for writer in WRITERS:
        for position in pending[writer]:
            _commit(database, position, writer)
            committed[writer] = position
    final = WriterPositions.of_writers(committed)
    for reader in range(2):
        seen[reader].extend(_seen(database, readers[reader], final))
        assert sorted(seen[reader]) == list(range(1, 61)), "every row exactly once"


def test_an_empty_range_reads_nothing(database: Database) -> None:
    positions = WriterPositions.of_writers({"persister1": 5})
    assert _seen(database, positions, positions) == []
