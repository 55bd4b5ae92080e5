"""Folding a retired writer out of tokens: readers moving token to token still see every row exactly once, whether
their token was made before the fold (naming the retired writer) or after it, however the writers interleave.

Ids come from ``StreamIds.allocate`` and are committed later, each writer in its own order, as in
``test_stream_ranges.py``. A fold happens only when no live writer has ids in flight: that is what taking the live
writers' locks to catch them up waits for.
"""

from __future__ import annotations

import random

import pytest
from sqlalchemy import insert, select

from persistence.database import Database
from persistence.stream_ids import StreamIds, WriterFolded
from persistence.stream_ranges import between
from persistence.tables import events, rooms
from protocol.sync_tokens import WriterPositions

STREAM = "events"
LIVE = ("persister1", "persister2")
RETIRED = "persister3"
ALLOCATIONS = 60
RETIRE_AT = 20

ids = StreamIds()


def _allocate(database: Database, writer: str) -> int:
    with database.write() as conn:
        return ids.allocate(conn, STREAM, writer=writer)[0]


def _commit(database: Database, position: int, writer: str) -> None:
    """The writer's transaction: its row and its position, together."""
    with database.write() as conn:
        conn.execute(insert(events).values(
            event_id=f"$e{position}", room_id="!r:x", stream_ordering=position, depth=position,
            type="m.room.message", state_key=None, sender="@a:x", origin_server_ts=0, instance_name=writer,
            json="{}", outlier=False))
        ids.advance_position(conn, STREAM, writer, position)


def _token(database: Database) -> WriterPositions:
    with database.read() as conn:
        return WriterPositions.of_writers(ids.get_positions(conn, STREAM))


def _seen(database: Database, since: WriterPositions | None, until: WriterPositions) -> list[int]:
    with database.read() as conn:
        rows = conn.execute(select(events.c.stream_ordering).where(
            between(events.c.instance_name, events.c.stream_ordering, since, until)))
        return sorted(int(row[0]) for row in rows)


def _fold(database: Database) -> bool:
    with database.write() as conn:
        return ids.fold_writer(conn, STREAM, RETIRED, LIVE)


def _start(database: Database) -> None:
    with database.write() as conn:
        conn.execute(insert(rooms).values(room_id="!r:x", room_version="10", creator="@a:x", created_ts=0))
        for writer in (*LIVE, RETIRED):  # each writer catches up when it starts (tasks/writers.py)
            ids.catch_up_writer(conn, STREAM, writer)


@pytest.mark.parametrize("seed", range(4))
def test_readers_see_every_row_once_across_a_writer_retiring_and_folding(database: Database, seed: int) -> None:
    chance = random.Random(seed)
    _start(database)
    pending: dict[str, list[int]] = {writer: [] for writer in (*LIVE, RETIRED)}
    fenced = folded = False
    # Two busy readers and one that sleeps through most of it, holding a token from before the fold.
    readers: list[WriterPositions | None] = [None, None, None]
    seen: list[list[int]] = [[], [], []]
    allocated: list[int] = []
    for step in range(ALLOCATIONS):
        writers = (*LIVE, RETIRED) if step < RETIRE_AT else LIVE
        writer = chance.choice(writers)
        position = _allocate(database, writer)
        allocated.append(position)
        pending[writer].append(position)
        for name in pending:
            while pending[name] and chance.random() < 0.4:
                _commit(database, pending[name].pop(0), name)
        if step >= RETIRE_AT and not pending[RETIRED] and not fenced:
            with database.write() as conn:  # its fence: drained, nothing in flight, caught up
                ids.catch_up_writer(conn, STREAM, RETIRED)
            fenced = True
        if fenced and not folded and not any(pending[w] for w in LIVE) and chance.random() < 0.3:
            folded = _fold(database)
            assert folded, "retired, drained, and the live writers have nothing in flight: it folds"
        reader = chance.choices(range(3), weights=(10, 10, 1))[0]
        until = _token(database)
        if folded:
            assert RETIRED not in until.writers(), "tokens made after the fold do not name it"
        if readers[reader] is not None:
            assert until.covers(readers[reader]), "a reader's tokens never move back"
        seen[reader].extend(_seen(database, readers[reader], until))
        readers[reader] = until
    for writer, positions in pending.items():
        for position in positions:
            _commit(database, position, writer)
    if not folded:
        with database.write() as conn:
            ids.catch_up_writer(conn, STREAM, RETIRED)
        assert _fold(database)
    final = _token(database)
    assert RETIRED not in final.writers() and set(final.writers()) <= set(LIVE)
    for reader in range(3):
        seen[reader].extend(_seen(database, readers[reader], final))
        assert sorted(seen[reader]) == sorted(allocated), "every row exactly once"



def test_a_retired_writer_above_another_retired_one_waits_for_it(database: Database) -> None:
    _start(database)
    with database.write() as conn:
        ids.catch_up_writer(conn, STREAM, "persister4")  # retired earlier, lower
    _commit(database, _allocate(database, "persister1"), "persister1")
    with database.write() as conn:
        ids.catch_up_writer(conn, STREAM, RETIRED)  # retired later, at its fence: higher
        assert not ids.fold_writer(conn, STREAM, RETIRED, LIVE), "would put it below the floor it is read at"
        assert ids.fold_writer(conn, STREAM, "persister4", LIVE)
        assert ids.fold_writer(conn, STREAM, RETIRED, LIVE)
    assert set(_token(database).writers()) <= set(LIVE)


def test_a_live_writer_is_never_the_one_folded_and_a_lone_writer_stays(database: Database) -> None:
    _start(database)
    with database.write() as conn:
        assert not ids.fold_writer(conn, STREAM, "nobody", LIVE), "no position: nothing to fold"
        assert ids.fold_writer(conn, STREAM, RETIRED, LIVE)
        assert ids.fold_writer(conn, STREAM, "persister2", ("persister1",))
        assert not ids.fold_writer(conn, STREAM, "persister1", ()), "the last writer is the floor itself"
        assert ids.get_positions(conn, STREAM).keys() == {"persister1"}


def test_a_folded_writer_announces_itself_before_it_writes_again(database: Database) -> None:
    _start(database)
    before = _token(database)
    first = _allocate(database, RETIRED)
    _commit(database, first, RETIRED)
    assert _fold(database)
    with pytest.raises(WriterFolded):
        _allocate(database, RETIRED)
    with database.write() as conn:  # added back: it catches up as any new writer does
        ids.catch_up_writer(conn, STREAM, RETIRED)
    later = _allocate(database, RETIRED)
    other = _allocate(database, "persister1")
    _commit(database, other, "persister1")
    middle = _token(database)
    assert middle.position_of(RETIRED) < later, "its uncommitted id is not under the floor readers use"
    _commit(database, later, RETIRED)
    final = _token(database)
    seen = _seen(database, before, middle) + _seen(database, middle, final)
    assert sorted(seen) == _seen(database, before, final) == sorted([first, later, other]), "each once"
