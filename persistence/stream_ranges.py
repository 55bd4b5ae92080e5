"""Per-writer stream ranges as SQL: the rows a reader moving from one token to the next must see.

A token holds each writer's committed position (``protocol/sync_tokens.py``). The rows between ``since`` and
``until`` are, writer by writer, those with ``since[W] < id <= until[W]``; an overall ``min(since) < id <=
max(until)`` bound lets the stream-id index narrow the scan first.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, or_

from protocol.sync_tokens import WriterPositions


def between(instance: ColumnElement[str], position: ColumnElement[int], since: WriterPositions | None,
            until: WriterPositions) -> ColumnElement[bool]:
    """Rows written after ``since`` (from the start when None) and at or before ``until``."""
    since = since or WriterPositions()
    named = {*until.writers(), *since.writers()}
    clauses = [and_(instance == writer, position > since.position_of(writer), position <= until.position_of(writer))
               for writer in sorted(named) if until.position_of(writer) > since.position_of(writer)]
    if until.floor > since.floor:
        unnamed = and_(position > since.floor, position <= until.floor)
        clauses.append(and_(instance.notin_(sorted(named)), unnamed) if named else unnamed)
    if not clauses:
        return false()
    low = min([since.floor, *(since.position_of(writer) for writer in named)])
    return and_(position > low, position <= until.highest, or_(*clauses))


def up_to(instance: ColumnElement[str], position: ColumnElement[int],
          until: WriterPositions) -> ColumnElement[bool]:
    """Rows at or before ``until``."""
    return between(instance, position, None, until)
