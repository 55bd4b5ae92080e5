"""Stream ids and per-writer positions (DESIGN.md guarantee 4).

Ids come from a PostgreSQL sequence, so several writers of one stream allocate without blocking each other and
may commit out of order with respect to each other; each writer's own ids commit in order, and it records the
position it has committed up to in the same transaction. Readers keep one position per writer
(``protocol/sync_tokens.py``) and read each writer's rows up to its position, so nothing still in flight can be
skipped. On SQLite a counter row inside the (already serialised) write transaction plays the sequence's part.
"""

from __future__ import annotations

from sqlalchemy import Connection, case, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from persistence.locks import lock_stream_writer
from persistence.tables import stream_counters, stream_positions


class StreamIds:
    def allocate(self, conn: Connection, stream: str, count: int = 1, *, writer: str) -> list[int]:
        """``count`` new, increasing ids for ``stream``, reserved inside the caller's transaction by ``writer``,
        whose ids then commit in allocation order (the writer's lock is held to the end of the transaction)."""
        if conn.dialect.name == "postgresql":
            lock_stream_writer(conn, stream, writer)
            rows = conn.execute(
                text(f"SELECT nextval('{stream}_stream_seq') FROM generate_series(1, :n)"), {"n": count}
            )
            return sorted(int(row[0]) for row in rows)
        last = conn.execute(
            update(stream_counters)
            .where(stream_counters.c.stream_name == stream)
            .values(last_id=stream_counters.c.last_id + count)
            .returning(stream_counters.c.last_id)
        ).scalar_one()
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

    def get_positions(self, conn: Connection, stream: str) -> dict[str, int]:
        rows = conn.execute(
            select(stream_positions.c.instance_name, stream_positions.c.position).where(
                stream_positions.c.stream_name == stream
            )
        )
        return {row.instance_name: int(row.position) for row in rows}

    def get_all_positions(self, conn: Connection, streams: tuple[str, ...]) -> dict[str, dict[str, int]]:
        """stream -> writer -> position for several streams in one query (what a /sync token is made of)."""
        rows = conn.execute(select(stream_positions).where(stream_positions.c.stream_name.in_(streams)))
        found: dict[str, dict[str, int]] = {stream: {} for stream in streams}
        for row in rows:
            found[row.stream_name][row.instance_name] = int(row.position)
        return found
