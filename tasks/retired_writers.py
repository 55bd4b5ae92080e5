"""Folding retired stream writers out of ``/sync`` tokens, so tokens name only the writers in use.

A token keeps one position per writer of each stream (``protocol/sync_tokens.py``). A writer removed with
``ganglion shards remove`` keeps its row in ``stream_positions`` after it drained, and as the lowest position it
became every token's floor, with each live writer named beside it: tokens grew with every writer ever used.

A retired writer is folded (``StreamIds.fold_writer``) once it is out of the stream's newest shard map, has passed
the fence of the epoch that removed it (so it has nothing queued or in flight, and caught its position up), and
its position is at or below every other writer's. That happens right after its fence (``tasks/resharding.py``)
and, should that attempt fail, on beat's next ``background.fold_retired_writers`` run. Old tokens that name it keep
working: they read its rows above their position for it, up to the new floor, which is past all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

from config.workers import STREAMS
from persistence.database import Database
from persistence.stores import Stores

logger = logging.getLogger(__name__)


def removals(epochs: Sequence[tuple[int, tuple[str, ...]]]) -> dict[str, int]:
    """Instance -> the epoch that removed it, for each instance an earlier map had and the newest has not."""
    removed: dict[str, int] = {}
    for (_epoch, instances), (next_epoch, next_instances) in pairwise(epochs):
        removed.update({name: next_epoch for name in instances if name not in next_instances})
    newest = set(epochs[-1][1]) if epochs else set()
    return {name: epoch for name, epoch in removed.items() if name not in newest}


def drained_retirees(epochs: Sequence[tuple[int, tuple[str, ...]]], fences: Mapping[str, int]) -> list[str]:
    """The retired instances that passed the fence of the epoch that removed them."""
    return sorted(name for name, epoch in removals(epochs).items() if fences.get(name, -1) >= epoch)


def fold_retired_writers(database: Database, stores: Stores) -> dict[str, list[str]]:
    """Fold every drained retired writer that can be folded now; answers stream -> the writers folded."""
    with database.read() as conn:
        maps = stores.shards.list_maps(conn)
        fences = {stream: stores.shards.get_fences(conn, stream) for stream in STREAMS if stream in maps}
    folded: dict[str, list[str]] = {}
    for stream, stream_fences in fences.items():
        epochs = maps[stream]
        retirees = drained_retirees(epochs, stream_fences)
        if not retirees:
            continue
        with database.write() as conn:
            positions = stores.stream_ids.get_positions(conn, stream)
            # Lowest first: each fold raises the floor the next one is measured against.
            for writer in sorted((w for w in retirees if w in positions), key=lambda w: positions[w]):
                if stores.stream_ids.fold_writer(conn, stream, writer, epochs[-1][1]):
                    folded.setdefault(stream, []).append(writer)
        for writer in folded.get(stream, []):
            logger.info("%s: retired writer %s folded out of sync tokens", stream, writer)
    return folded


def fold_task(context: Any) -> int:
    """Beat's fallback for a fold the fence could not do; returns the number of writers folded."""
    return sum(len(writers) for writers in fold_retired_writers(context.database, context.stores).values())
