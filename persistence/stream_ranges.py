"""Per-writer stream ranges as SQL: the rows a reader moving from one token to the next must see.

A token holds each writer's committed position (``protocol/sync_tokens.py``). The rows between ``since`` and
``until`` are, writer by writer, those with ``since[W] < id <= until[W]``; an overall ``min(since) < id <=
max(until)`` bound lets the stream-id index narrow the scan first.
"""

from __future__ import annotations

import threading

from sqlalchemy import ColumnElement, Table, and_, false, or_

from protocol.sync_tokens import WriterPositions

_CACHE_SIZE = 4096
_cache: dict[tuple[int, int, WriterPositions | None, WriterPositions], ColumnElement[bool]] = {}
_cache_lock = threading.Lock()


def between(instance: ColumnElement[str], position: ColumnElement[int], since: WriterPositions | None,
            until: WriterPositions) -> ColumnElement[bool]:
    """Rows written after ``since`` (from the start when None) and at or before ``until``.

    Clauses over a table's own columns are kept (bounded): every sync of every user asks for the same few
    ranges, and assembling them is a good part of a sync's cost. A clause is immutable, so sharing is safe.
    """
    cacheable = isinstance(getattr(position, "table", None), Table)
    key = (id(instance), id(position), since, until)
    if cacheable:
        found = _cache.get(key)
        if found is not None:
            return found
    clause = _between(instance, position, since or WriterPositions(), until)
    if cacheable:
        with _cache_lock:
            if len(_cache) >= _CACHE_SIZE:
                _cache.clear()
            _cache[key] = clause
    return clause


def _between(instance: ColumnElement[str], position: ColumnElement[int], since: WriterPositions,
             until: WriterPositions) -> ColumnElement[bool]:
    named = {*until.writers(), *since.writers()}
    if not named:  # every writer at one position on both sides: a plain range
        return and_(position > since.floor, position <= until.floor) if until.floor > since.floor else false()
    clauses = [and_(instance == writer, position > since.position_of(writer), position <= until.position_of(writer))
               for writer in sorted(named) if until.position_of(writer) > since.position_of(writer)]
    if until.floor > since.floor:
        clauses.append(and_(instance.notin_(sorted(named)), position > since.floor, position <= until.floor))
    if not clauses:
        return false()
    low = min([since.floor, *(since.position_of(writer) for writer in named)])
    return and_(position > low, position <= until.highest, or_(*clauses))


def up_to(instance: ColumnElement[str], position: ColumnElement[int],
          until: WriterPositions) -> ColumnElement[bool]:
    """Rows at or before ``until``."""
    return between(instance, position, None, until)
