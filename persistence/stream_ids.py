"""Stream ids and per-writer positions (DESIGN.md guarantee 4).

Ids come from a PostgreSQL sequence, so several writers of one stream allocate without blocking each other and
may commit out of order; each writer then records the position it has persisted up to. Readers take the
minimum across a stream's writers as the position below which nothing can still appear. On SQLite a counter
row inside the (already serialised) write transaction plays the sequence's part.
"""

from __future__ import annotations

from sqlalchemy import Connection, case, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from persistence.tables import stream_counters, stream_positions


class StreamIds:
    def allocate(self, conn: Connection, stream: str, count: int = 1) -> list[int]:
        """``count`` new, increasing ids for ``stream``, reserved inside the caller's transaction."""
        if conn.dialect.name == "postgresql":
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

    def get_positions(self, conn: Connection, stream: str) -> dict[str, int]:
        rows = conn.execute(
            select(stream_positions.c.instance_name, stream_positions.c.position).where(
                stream_positions.c.stream_name == stream
            )
        )
        return {row.instance_name: int(row.position) for row in rows}

    def get_persisted_up_to(self, conn: Connection, stream: str, writers: tuple[str, ...]) -> int:
        """The minimum position across ``writers``: every item at or below it is committed and visible."""
        positions = self.get_positions(conn, stream)
        return min((positions.get(writer, 0) for writer in writers), default=0)
