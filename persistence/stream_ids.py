"""Stream ids and per-writer positions (DESIGN.md guarantee 4).

Ids come from a PostgreSQL sequence, so several writers of one stream allocate without blocking each other and
may commit out of order with respect to each other; each writer's own ids commit in order, and it records the
position it has committed up to in the same transaction. Readers keep one position per writer
(``protocol/sync_tokens.py``) and read each writer's rows up to its position, so nothing still in flight can be
skipped. On SQLite a counter row inside the (already serialised) write transaction plays the sequence's part.

A retired writer (``ganglion shards remove``, drained) is **folded** out of tokens once its position is at or below
every other writer's: its row then holds :data:`FOLDED` instead of a position, readers leave it out, and a token
that does not name it reads it at the floor, which is at or past everything it wrote. Should a folded writer write
again (added back), :meth:`StreamIds.allocate` refuses until it has announced itself with
:meth:`StreamIds.catch_up_writer`, in a transaction of its own, as a new writer does: otherwise readers would take
its uncommitted ids for lying under the floor.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, Select, case, exists, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import NoResultFound

from persistence.locks import lock_stream_writer
from persistence.tables import stream_counters, stream_positions

FOLDED = -1
"""The position a folded (retired, then dropped from tokens) writer's row holds; real positions are >= 0."""


class WriterFolded(Exception):
    """A writer that was folded out of tokens tried to allocate: it must catch up (announce itself) first."""

    def __init__(self, stream: str, writer: str) -> None:
        super().__init__(f"{writer} was folded out of {stream}'s tokens; it catches up before it writes again")
        self.stream = stream
        self.writer = writer


class StreamIds:
    def allocate(self, conn: Connection, stream: str, count: int = 1, *, writer: str) -> list[int]:
        """``count`` new, increasing ids for ``stream``, reserved inside the caller's transaction by ``writer``,
        whose ids then commit in allocation order (the writer's lock is held to the end of the transaction).
        Raises :class:`WriterFolded` for a folded writer (checked under its lock, as folding is)."""
        if conn.dialect.name == "postgresql":
            lock_stream_writer(conn, stream, writer)
            # One round trip: no ids at all when the writer is folded.
            rows = conn.execute(
                text(f"SELECT nextval('{stream}_stream_seq') FROM generate_series(1, :n) WHERE NOT EXISTS ("
                     "SELECT 1 FROM stream_positions WHERE stream_name = :stream AND instance_name = :writer "
                     "AND position = :folded)"),
                {"n": count, "stream": stream, "writer": writer, "folded": FOLDED},
            )
            ids = sorted(int(row[0]) for row in rows)
            if count > 0 and not ids:
                raise WriterFolded(stream, writer)
            return ids
        last = conn.execute(
            update(stream_counters)
            .where(stream_counters.c.stream_name == stream, ~exists(self._folded_row(stream, writer)))
            .values(last_id=stream_counters.c.last_id + count)
            .returning(stream_counters.c.last_id)
        ).scalar_one_or_none()
        if last is None:
            if conn.execute(self._folded_row(stream, writer)).first() is not None:
                raise WriterFolded(stream, writer)
            raise NoResultFound(f"no stream counter for {stream}")
        return list(range(int(last) - count + 1, int(last) + 1))

    def advance_position(self, conn: Connection, stream: str, instance: str, position: int) -> None:
        """Record that ``instance`` has persisted everything it allocated up to ``position``; never moves back."""
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(stream_positions).values(
            stream_name=stream, instance_name=instance, position=position
        )
        newer = statement.excluded.position
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["stream_name", "instance_name"],
                set_={"position": case((stream_positions.c.position > newer, stream_positions.c.position),
                                       else_=newer)},
            )
        )

    def catch_up_writer(self, conn: Connection, stream: str, writer: str) -> None:
        """Move ``writer``'s position up to the newest id anyone allocated, which is sound whenever the writer
        has nothing in flight: under its lock no transaction of its own sits between allocation and commit, and
        every id it allocates later is larger.

        A writer does this when it starts, before its first allocation: a reader then never takes a writer
        with nothing committed yet for one standing at the other writers' floor (``protocol/sync_tokens.py``),
        and a writer that was idle while the others moved on no longer holds readers' ranges open behind it.
        """
        if conn.dialect.name == "postgresql":
            if conn.execute(text(f"SELECT to_regclass('{stream}_stream_seq')")).scalar_one() is None:
                return
            lock_stream_writer(conn, stream, writer)
            last, called = conn.execute(text(f"SELECT last_value, is_called FROM {stream}_stream_seq")).one()
            newest = int(last) if called else int(last) - 1
        else:
            found = conn.execute(select(stream_counters.c.last_id)
                                 .where(stream_counters.c.stream_name == stream)).scalar_one_or_none()
            if found is None:
                return
            newest = int(found)
        self.advance_position(conn, stream, writer, max(newest, 0))

    def fold_writer(self, conn: Connection, stream: str, writer: str, live: Collection[str]) -> bool:
        """Drop retired ``writer`` from ``stream``'s tokens, if it is safe now; answers whether it was folded.

        Safe once its position is at or below every other writer's: tokens made afterwards read it at their floor
        (the lowest of the others), which is at or past everything it ever wrote, so a client moving from a token
        that still names it reads exactly its rows above that token's position for it, and none twice. The live
        writers are caught up first (each under its own lock, so with nothing in flight), or one idle writer
        would hold the fold off for as long as it stays idle. The caller knows ``writer`` is retired and drained
        (``tasks/retired_writers.py``); its lock, held to commit, orders the fold with any allocation of its own.
        """
        present = self.get_positions(conn, stream)
        for name in sorted(set(live) & set(present) - {writer}):
            self.catch_up_writer(conn, stream, name)
        if conn.dialect.name == "postgresql":
            lock_stream_writer(conn, stream, writer)
        positions = self.get_positions(conn, stream)
        own = positions.pop(writer, None)
        if own is None or not positions or own > min(positions.values()):
            return False
        conn.execute(update(stream_positions)
                     .where(stream_positions.c.stream_name == stream, stream_positions.c.instance_name == writer)
                     .values(position=FOLDED))
        return True

    @staticmethod
    def _folded_row(stream: str, writer: str) -> Select[tuple[int]]:
        return select(stream_positions.c.position).where(
            stream_positions.c.stream_name == stream, stream_positions.c.instance_name == writer,
            stream_positions.c.position == FOLDED)

    def get_positions(self, conn: Connection, stream: str) -> dict[str, int]:
        """writer -> committed position; folded writers are left out (tokens read them at the floor)."""
        rows = conn.execute(
            select(stream_positions.c.instance_name, stream_positions.c.position).where(
                stream_positions.c.stream_name == stream, stream_positions.c.position != FOLDED
            )
        )
        return {row.instance_name: int(row.position) for row in rows}

    def get_all_positions(self, conn: Connection, streams: tuple[str, ...]) -> dict[str, dict[str, int]]:
        """stream -> writer -> position for several streams in one query (what a /sync token is made of)."""
        rows = conn.execute(select(stream_positions).where(stream_positions.c.stream_name.in_(streams),
                                                           stream_positions.c.position != FOLDED))
        found: dict[str, dict[str, int]] = {stream: {} for stream in streams}
        for row in rows:
            found[row.stream_name][row.instance_name] = int(row.position)
        return found
