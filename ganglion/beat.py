"""``ganglion beat``: Celery beat with the periodic jobs, sending only while it holds the ``beat`` lease.

Any number of copies may run (one per machine, for failover): all tick, but a copy sends a due job only if the
lease's fence says it is the holder at that moment, so the jobs are never scheduled twice. A waiting copy takes
over within a renewal interval when the holder stops, or within the lease's expiry when it crashes. The schedule
is kept in memory: the jobs are sweeps, so after a takeover each simply runs one interval later, and no schedule
file is shared between copies.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery.beat import Scheduler

from persistence.leases import LeaseKeeper

logger = logging.getLogger(__name__)


def fenced_scheduler(keeper: LeaseKeeper) -> type[Scheduler]:
    """A beat scheduler class that checks ``keeper``'s fence before sending each due job."""

    class FencedScheduler(Scheduler):  # type: ignore[misc]
        def apply_entry(self, entry: Any, producer: Any = None) -> None:
            if not keeper.is_held():
                logger.debug("standby beat: not sending %s", entry.name)
                return
            super().apply_entry(entry, producer=producer)

    return FencedScheduler


def run_beat(celery: Celery, keeper: LeaseKeeper, loglevel: str) -> None:
    keeper.start()
    try:
        celery.Beat(scheduler=fenced_scheduler(keeper), loglevel=loglevel, max_interval=1.0).run()
    finally:
        keeper.stop()
