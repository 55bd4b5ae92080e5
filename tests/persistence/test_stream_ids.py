"""Stream ids increase, never repeat, and per-writer positions never move backwards."""

from __future__ import annotations

from persistence.database import Database
from persistence.stream_ids import StreamIds


def test_allocations_increase_and_do_not_repeat(database: Database) -> None:
    ids = StreamIds()
    seen: list[int] = []
    for count in (1, 3, 2):
        with database.write() as conn:
            seen.extend(ids.allocate(conn, "device_lists", count, writer="main"))
    assert seen == sorted(seen) and len(set(seen)) == 6


def test_positions_only_advance(database: Database) -> None:
    ids = StreamIds()
    with database.write() as conn:
        ids.advance_position(conn, "device_lists", "writer1", 10)
        ids.advance_position(conn, "device_lists", "writer2", 7)
        ids.advance_position(conn, "device_lists", "writer1", 4)  # a stale report must not move it back
    with database.read() as conn:
        assert ids.get_positions(conn, "device_lists") == {"writer1": 10, "writer2": 7}


def test_a_writer_catches_up_to_the_newest_id_when_it_has_nothing_in_flight(database: Database) -> None:
    ids = StreamIds()
    with database.write() as conn:
        newest = ids.allocate(conn, "device_lists", 3, writer="writer1")[-1]
        ids.advance_position(conn, "device_lists", "writer1", newest)
    with database.write() as conn:
        ids.catch_up_writer(conn, "device_lists", "writer2")
        ids.catch_up_writer(conn, "no_such_stream", "writer2")
    with database.read() as conn:
        assert ids.get_positions(conn, "device_lists") == {"writer1": newest, "writer2": newest}
        assert ids.get_positions(conn, "no_such_stream") == {}
