"""Making staged bytes visible together with the database row that describes them.

The file is renamed into place inside the transaction that records it, and removed again if that transaction
does not commit: so a row never names a missing or half-written file, and a file whose row was refused (a
concurrent upload won) never replaces the winner's.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from persistence.database import Database
from persistence.media.storage import MediaStorage, StagedFile


def keep_if_recorded(database: Database, storage: MediaStorage, staged: StagedFile, key: str,
                     record: Callable[[Connection], bool]) -> bool:
    """Run ``record`` in a write transaction; if it returns True, commit ``staged`` under ``key`` before the
    transaction commits. Returns whether the bytes were kept (the staged file is discarded otherwise).

    The staged bytes are flushed to disk first, outside the transaction: an ``fsync`` of a large file takes a
    while, and inside it would hold the write lock (SQLite's one writer, PostgreSQL's row locks) all that time;
    only the rename and its folder's ``fsync`` need to fall between the record and its commit."""
    staged.finish()
    placed = False
    try:
        with database.write() as conn:
            if not record(conn):
                return False
            storage.commit(staged, key)
            placed = True
    except BaseException:
        if placed:
            storage.delete(key)
        raise
    return True
