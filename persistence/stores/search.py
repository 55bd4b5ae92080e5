"""Full-text search over events: the events writer adds searchable text, ``POST /search`` queries it.

The query differs per database, behind one method. PostgreSQL matches ``to_tsvector('english', value)`` (the
expression migration 0004 indexes) against a prefix ``tsquery`` and ranks with ``ts_rank``; SQLite matches the
FTS5 table ``event_search_fts`` and ranks with ``bm25`` (negated: FTS5 scores better matches lower, the spec
wants higher). Words reach either engine only as ``\\w+`` runs (:func:`protocol.search.search_words`), so no user
input is ever read as query syntax.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, column, delete, func, insert, literal_column, select, table, text

from persistence.tables import event_search

ORDER_BY = ("rank", "recent")


@dataclass(frozen=True)
class SearchQuery:
    """Which rows match: all ``words`` (as prefixes) in one of ``keys``, in ``room_ids``, by the senders asked."""

    words: Sequence[str]
    room_ids: Sequence[str]
    keys: Sequence[str]
    senders: Sequence[str] | None = None
    not_senders: Sequence[str] = ()


@dataclass(frozen=True)
class SearchHit:
    event_id: str
    room_id: str
    stream_ordering: int
    rank: float


_FTS = table("event_search_fts", column("rowid"))
_TSVECTOR = func.to_tsvector(literal_column("'english'"), event_search.c.value)


class SearchStore:
    def insert_entry(self, conn: Connection, *, stream_ordering: int, event_id: str, room_id: str, sender: str,
                     key: str, value: str, origin_server_ts: int) -> None:
        conn.execute(insert(event_search).values(
            stream_ordering=stream_ordering, event_id=event_id, room_id=room_id, sender=sender, key=key,
            value=value, origin_server_ts=origin_server_ts))

    def delete_entry(self, conn: Connection, event_id: str) -> None:
        """Forget an event's text (a self-destructed event must not be found by what it said)."""
        conn.execute(delete(event_search).where(event_search.c.event_id == event_id))

    def list_matches(self, conn: Connection, query: SearchQuery, *, order_by: str, offset: int, limit: int,
                     before_stream: int | None = None) -> list[SearchHit]:
        """Matching rows, best first (``rank``) or latest first (``recent``), skipping ``offset`` rows."""
        if not query.words or not query.room_ids or not query.keys:
            return []
        statement, rank = self._matching(conn, query)
        statement = statement.add_columns(rank.label("rank"))
        if before_stream is not None:
            statement = statement.where(event_search.c.stream_ordering < before_stream)
        ordering = [event_search.c.stream_ordering.desc()]
        if order_by == "rank":
            ordering.insert(0, rank.desc())
        rows = conn.execute(statement.order_by(*ordering).offset(offset).limit(limit))
        return [SearchHit(row.event_id, row.room_id, int(row.stream_ordering), float(row.rank or 0.0))
                for row in rows]

    def count_matches(self, conn: Connection, query: SearchQuery) -> int:
        if not query.words or not query.room_ids or not query.keys:
            return 0
        statement, _ = self._matching(conn, query)
        return int(conn.execute(select(func.count()).select_from(statement.subquery())).scalar_one())

    def _matching(self, conn: Connection, query: SearchQuery) -> tuple[Select[Any], Any]:
        columns = (event_search.c.event_id, event_search.c.room_id, event_search.c.stream_ordering)
        if conn.dialect.name == "sqlite":
            match = " ".join(f'"{word}"*' for word in query.words)
            statement = (select(*columns)
                         .select_from(event_search.join(_FTS, _FTS.c.rowid == event_search.c.stream_ordering))
                         .where(text("event_search_fts MATCH :match").bindparams(match=match)))
            rank: Any = -func.bm25(literal_column("event_search_fts"))
        else:
            tsquery = func.to_tsquery(literal_column("'english'"), " & ".join(f"{word}:*" for word in query.words))
            statement = select(*columns).where(_TSVECTOR.bool_op("@@")(tsquery))
            rank = func.ts_rank(_TSVECTOR, tsquery)
        statement = statement.where(event_search.c.room_id.in_(list(query.room_ids)),
                                    event_search.c.key.in_(list(query.keys)))
        if query.senders is not None:
            statement = statement.where(event_search.c.sender.in_(list(query.senders)))
        if query.not_senders:
            statement = statement.where(event_search.c.sender.not_in(list(query.not_senders)))
        return statement, rank
