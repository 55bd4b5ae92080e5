"""``ganglion shards``: add or remove an instance of a sharded family while everything keeps running.

The change is one new epoch in ``shard_maps``, a doorbell ring so every process re-reads it, and a fence task at
the tail of each old owner's queue; the command then waits (bounded) until the old owners have passed their fences,
so the admin knows when a removed instance may be stopped. The design is in ``tasks/resharding.py``.
"""

from __future__ import annotations

import re
import sys
import time

from kombu import Queue
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from config import ConfigError, HomeserverConfig
from config.routing import FAMILIES, RoutingTable
from ganglion.wiring import redis_doorbell
from persistence.database import Database
from persistence.doorbell import Ring
from persistence.stores import Stores
from tasks.app import create_celery
from tasks.envelope import signed_options
from tasks.resharding import EPOCH_HEADER, FENCE, SHARDS_STREAM, LiveRouting

_INSTANCE_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
"""Instance names become queue names (``events.NAME``) and Celery hostnames: no dots, spaces or '@'."""


def show_shards(config: HomeserverConfig, family: str | None = None) -> str:
    """Each sharded family's instances and where they come from; only ``family``'s when one is named."""
    if family is not None:
        _check_family(family)
    database = Database(config.database)
    try:
        routing = LiveRouting(config, database, Stores())
        with database.read() as conn:
            maps = Stores().shards.list_maps(conn)
        lines = []
        for name, spec in FAMILIES.items():
            if spec.sharded and family in (None, name):
                history = routing.history(name)
                source = "shard map" if name in maps else "config"
                lines.append(f"{name}: epoch {history.epoch} ({source}): {', '.join(history.instances) or '-'}")
        return "\n".join(lines)
    finally:
        database.dispose()


def live_queues_for_instance(config: HomeserverConfig, instance: str) -> tuple[str, ...]:
    """What ``ganglion worker NAME`` consumes under the shard maps in force (the config, or a live change), plus
    the queues of families it was removed from, so whatever is left there is still drained and forwarded."""
    database = Database(config.database)
    try:
        return LiveRouting(config, database, Stores()).queues_for_instance(instance)
    finally:
        database.dispose()


def named_in_shard_maps(config: HomeserverConfig, instance: str) -> bool:
    """Whether a live change ever gave ``instance`` a shard: then ``ganglion worker`` may start it though the
    config names it nowhere. A database that cannot be read (or has no shard maps yet) names nobody."""
    database = Database(config.database)
    try:
        with database.read() as conn:
            maps = Stores().shards.list_maps(conn)
    except SQLAlchemyError:
        return False
    finally:
        database.dispose()
    return any(instance in instances for epochs in maps.values() for _epoch, instances in epochs)


def _check_family(family: str) -> None:
    if family not in FAMILIES or not FAMILIES[family].sharded:
        sharded = ", ".join(name for name, spec in FAMILIES.items() if spec.sharded)
        raise ConfigError(family, f"is not a sharded family; sharded families: {sharded}")


def next_instances(current: tuple[str, ...], action: str, family: str, instance: str) -> tuple[str, ...]:
    """The family's instances after ``action``; a ConfigError says why a change makes no sense."""
    _check_family(family)
    if not _INSTANCE_NAME.match(instance):
        raise ConfigError(instance, "an instance name is 1-64 letters, digits, '_' or '-'")
    if action == "add":
        if instance in current:
            raise ConfigError(f"{family}.{instance}", "is already in the shard map")
        return (*current, instance)
    if instance not in current:
        raise ConfigError(f"{family}.{instance}", f"is not in the shard map ({', '.join(current) or 'empty'})")
    if len(current) == 1:
        raise ConfigError(f"{family}.{instance}", "is the family's last instance; add another first")
    return tuple(name for name in current if name != instance)


def change_shards(config: HomeserverConfig, action: str, family: str, instance: str, *,
                  wait_seconds: float) -> int:
    _check_family(family)
    database = Database(config.database)
    stores = Stores()
    celery = create_celery(config)
    doorbell = redis_doorbell(config)
    try:
        routing = LiveRouting(config, database, stores)
        history = routing.history(family)
        current = history.instances
        instances = next_instances(current, action, family, instance)
        epoch = history.epoch + 1
        now_ms = int(time.time() * 1000)
        try:
            with database.write() as conn:
                if history.epoch == 0:
                    stores.shards.insert_map(conn, family, 0, current, now_ms)
                stores.shards.insert_map(conn, family, epoch, instances, now_ms)
        except IntegrityError:
            print(f"{family} was changed at the same time by someone else; look (`ganglion shards show`) and "
                  "try again", file=sys.stderr)
            return 1
        doorbell.ring(Ring(SHARDS_STREAM, "admin", epoch, (family,)))
        print(f"{family}: epoch {epoch}: {', '.join(instances)}")
        secret = config.workers.replication_secret
        kwargs = {"family": family, "epoch": epoch}
        for old in current:
            options = signed_options(secret, FENCE, kwargs)
            celery.send_task(FENCE, kwargs=kwargs, queue=Queue(RoutingTable.queue_name(family, old)),
                             ignore_result=True, task_id=options["task_id"],
                             headers={**options["headers"], EPOCH_HEADER: epoch})
        return _wait_for_fences(database, stores, family, current, epoch, wait_seconds)
    finally:
        celery.close()
        doorbell.close()
        database.dispose()


def _wait_for_fences(database: Database, stores: Stores, family: str, old: tuple[str, ...], epoch: int,
                     wait_seconds: float) -> int:
    deadline = time.monotonic() + wait_seconds
    while True:
        with database.read() as conn:
            fences = stores.shards.get_fences(conn, family)
        pending = [name for name in old if fences.get(name, -1) < epoch]
        if not pending:
            print(f"{family}: every old owner has drained (fence {epoch} passed)")
            return 0
        if time.monotonic() > deadline:
            print(f"{family}: still draining after {wait_seconds:.0f}s: {', '.join(pending)} (is it running? "
                  "its queue drains when it starts)", file=sys.stderr)
            return 3
        time.sleep(0.2)
