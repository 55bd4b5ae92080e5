"""One piece of work per key at a time, across threads and (on PostgreSQL) across processes: concurrent requests
for one remote file fetch it once, the others wait and then find it cached.

In a process, a lock per key (dropped when no one holds or waits for it). Between processes, a session-level
PostgreSQL advisory lock on its own connection, held for the duration of the work only, so no transaction stays
open while a remote server answers. SQLite deployments are one process, where the in-process lock is enough.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator

from sqlalchemy import text

from persistence.database import Database

LOCK_CLASS = 0x666C6974  # "flit": apart from the room and stream lock classes


def _key(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=4).digest(), "big", signed=True)


class SingleFlight:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def hold(self, database: Database, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                if database.is_sqlite:
                    yield
                else:
                    with self._across_processes(database, key):
                        yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)

    @staticmethod
    @contextlib.contextmanager
    def _across_processes(database: Database, key: str) -> Iterator[None]:
        params = {"class": LOCK_CLASS, "key": _key(key)}
        with database.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:class, :key)"), params)
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:class, :key)"), params)
                conn.commit()
