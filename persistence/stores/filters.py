"""Filters users upload for ``/sync`` (Client-Server API, "Filtering"): per user, numbered from 0.

Not a stream: the web tier writes these rows directly. Clients upload the same filter every time they start, so
an identical filter (same canonical JSON) gets its existing id back instead of a new row, as Synapse answers.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

from persistence.tables import user_filters

MAX_ID_ATTEMPTS = 5


class FilterStore:
    def upsert_filter(self, conn: Connection, user_id: str, filter_json: str) -> int:
        """The id of ``filter_json`` (canonical JSON) for ``user_id``, stored now if it is new."""
        existing = conn.execute(select(user_filters.c.filter_id).where(
            user_filters.c.user_id == user_id, user_filters.c.filter_json == filter_json)).scalar_one_or_none()
        if existing is not None:
            return int(existing)
        for _ in range(MAX_ID_ATTEMPTS):
            last = conn.execute(select(func.max(user_filters.c.filter_id))
                                .where(user_filters.c.user_id == user_id)).scalar_one_or_none()
            filter_id = 0 if last is None else int(last) + 1
            try:
                with conn.begin_nested():  # a concurrent upload may take the same id: try the next one
                    conn.execute(insert(user_filters).values(user_id=user_id, filter_id=filter_id,
                                                             filter_json=filter_json))
                return filter_id
            except IntegrityError:
                continue
        raise RuntimeError(f"could not number a new filter for {user_id}")

    def get_filter(self, conn: Connection, user_id: str, filter_id: int) -> str | None:
        return conn.execute(select(user_filters.c.filter_json).where(
            user_filters.c.user_id == user_id, user_filters.c.filter_id == filter_id)).scalar_one_or_none()
