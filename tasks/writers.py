"""What a process that writes streams does once, before it takes its first task."""

from __future__ import annotations

from tasks.context import TaskContext


def start_stream_writers(context: TaskContext, streams: tuple[str, ...]) -> None:
    """Catch this instance's position up on every stream it writes (``StreamIds.catch_up_writer``), so readers
    never mistake a writer with nothing committed yet for one that stands with the others. Only a Celery worker
    needs it: the monolith is every stream's only writer, and a lone writer cannot be taken for another.
    ``streams`` come from the shard map in force, so a writer added live catches up too (tasks/resharding.py)."""
    name = context.instance_name
    with context.database.write() as conn:
        for stream in streams:
            context.stores.stream_ids.catch_up_writer(conn, stream, name)
