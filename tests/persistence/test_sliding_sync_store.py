"""Sliding sync connections and their positions, on both databases: positions belong to one connection of one
device, a restart invalidates them, naming one retires those before it, and idle connections are forgotten."""

from __future__ import annotations

from persistence.database import Database
from persistence.stores.sliding_sync import SlidingSyncStore


def test_positions_belong_to_their_connection(database: Database) -> None:
    store = SlidingSyncStore()
    with database.write() as conn:
        main = store.start_connection(conn, "@a:x", "PHONE", "main", 1000)
        other = store.start_connection(conn, "@a:x", "PHONE", "e2ee", 1000)
        first = store.insert_position(conn, main, "gtoken1", "{}", 1000)
        store.insert_position(conn, other, "gtoken2", "{}", 1000)
    with database.read() as conn:
        found = store.get_position(conn, "@a:x", "PHONE", "main", first)
        assert found is not None and (found.connection_id, found.token, found.created_ts) == (main, "gtoken1", 1000)
        assert store.get_position(conn, "@a:x", "PHONE", "e2ee", first) is None
        assert store.get_position(conn, "@a:x", "LAPTOP", "main", first) is None
        assert store.get_position(conn, "@b:x", "PHONE", "main", first) is None


def test_naming_a_position_retires_the_earlier_ones_and_a_restart_all(database: Database) -> None:
    store = SlidingSyncStore()
    with database.write() as conn:
        connection = store.start_connection(conn, "@a:x", "PHONE", "", 1000)
        first = store.insert_position(conn, connection, "g1", "{}", 1000)
        second = store.insert_position(conn, connection, "g2", "{}", 2000)
        store.delete_positions_before(conn, connection, second)
        third = store.insert_position(conn, connection, "g3", "{}", 3000)
    with database.read() as conn:
        assert store.get_position(conn, "@a:x", "PHONE", "", first) is None
        assert store.get_position(conn, "@a:x", "PHONE", "", second) is not None, "it may be retried"
    with database.write() as conn:
        assert store.start_connection(conn, "@a:x", "PHONE", "", 4000) == connection
    with database.read() as conn:
        assert all(store.get_position(conn, "@a:x", "PHONE", "", position) is None
                   for position in (second, third))


def test_idle_connections_are_forgotten(database: Database) -> None:
    store = SlidingSyncStore()
    with database.write() as conn:
        idle = store.start_connection(conn, "@a:x", "OLD", "", 1000)
        store.insert_position(conn, idle, "g1", "{}", 1000)
        busy = store.start_connection(conn, "@a:x", "NEW", "", 1000)
        kept = store.insert_position(conn, busy, "g2", "{}", 9000)
        store.delete_idle_connections(conn, "@a:x", 5000)
    with database.write() as conn:
        assert store.start_connection(conn, "@a:x", "OLD", "", 10000) != idle, "the idle one was deleted"
    with database.read() as conn:
        assert store.get_position(conn, "@a:x", "NEW", "", kept) is not None
