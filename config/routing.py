"""The routing table: which Celery queue a piece of work goes to and which instance consumes it.

Pure and deterministic, so a web worker, a Celery worker and ``ganglion routes`` all compute the same answer
from the same config. A family is a kind of work (a stream, or an outbound job); a sharded family has one queue
per instance and a key (room, user, destination, appservice) that picks the instance.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from config.workers import MAIN, STREAMS, WorkerConfig


@dataclass(frozen=True)
class Family:
    name: str
    sharded: bool
    ordered: bool
    """Ordered families need one consumer at a time per queue (a writer); the others may run concurrently."""


FAMILIES: dict[str, Family] = {
    **{stream: Family(stream, sharded=True, ordered=True) for stream in STREAMS},
    "federation": Family("federation", sharded=True, ordered=False),
    "push": Family("push", sharded=True, ordered=False),
    "appservice": Family("appservice", sharded=True, ordered=True),
    "user_directory": Family("user_directory", sharded=False, ordered=True),
    "media": Family("media", sharded=False, ordered=False),
    "background": Family("background", sharded=False, ordered=False),
}


def _weight(instance: str, key: str) -> int:
    digest = hashlib.blake2b(f"{instance}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def shard_for(instances: tuple[str, ...], key: str) -> str:
    """The instance responsible for ``key``: rendezvous (highest-random-weight) hashing, stable across processes
    and Python runs. Adding an instance moves only the keys it now wins (about 1/n of them), all to it;
    removing one moves only its own keys, spread over the rest (``tasks/resharding.py``)."""
    if len(instances) == 1:
        return instances[0]
    return max(instances, key=lambda instance: (_weight(instance, key), instance))


class RoutingTable:
    """Family -> instances -> queue names, derived from the worker keys, or for a family resharded live from its
    shard map in force (``overrides``, read from the database by ``tasks/resharding.py``)."""

    def __init__(self, workers: WorkerConfig, overrides: Mapping[str, tuple[str, ...]] | None = None) -> None:
        self._instances = {name: self._compute_instances(workers, name) for name in FAMILIES}
        self._instances.update({family: tuple(instances) for family, instances in (overrides or {}).items()
                                if family in FAMILIES and FAMILIES[family].sharded})

    @staticmethod
    def _compute_instances(workers: WorkerConfig, family: str) -> tuple[str, ...]:
        if family in STREAMS:
            return workers.writers(family)
        if family == "federation":
            if workers.federation_sender_instances:
                return workers.federation_sender_instances
            return (MAIN,) if workers.send_federation else ()
        if family == "push":
            if workers.pusher_instances:
                return workers.pusher_instances
            return (MAIN,) if workers.start_pushers else ()
        if family == "appservice":
            if workers.appservice_instances:
                return workers.appservice_instances
            if workers.notify_appservices_from_worker:
                return (workers.notify_appservices_from_worker,)
            return (MAIN,) if workers.notify_appservices else ()
        if family == "user_directory":
            if workers.update_user_directory_from_worker:
                return (workers.update_user_directory_from_worker,)
            return (MAIN,) if workers.update_user_directory else ()
        if family == "media":
            if workers.media_instance_running_background_jobs:
                return (workers.media_instance_running_background_jobs,)
            return (MAIN,) if workers.enable_media_repo else ()
        return (workers.run_background_tasks_on,)

    def instances(self, family: str) -> tuple[str, ...]:
        return self._instances[family]

    @staticmethod
    def queue_name(family: str, instance: str) -> str:
        return f"{family}.{instance}" if FAMILIES[family].sharded else family

    def queue_for(self, family: str, key: str | None) -> str | None:
        """The queue that takes work of ``family`` for ``key``; None when the config disables the family."""
        instances = self._instances[family]
        if not instances:
            return None
        if not FAMILIES[family].sharded:
            return family
        if key is None:
            raise ValueError(f"{family} is sharded: a shard key is required")
        return self.queue_name(family, shard_for(instances, key))

    def queues_for_instance(self, instance: str) -> tuple[str, ...]:
        """Exactly the queues ``instance`` consumes: what ``ganglion worker NAME`` passes to Celery."""
        return tuple(
            self.queue_name(family, instance)
            for family, instances in self._instances.items()
            if instance in instances
        )

    def all_queues(self) -> tuple[str, ...]:
        return tuple(
            dict.fromkeys(
                self.queue_name(family, instance)
                for family, instances in self._instances.items()
                for instance in instances
            )
        )

    def consuming_instances(self) -> tuple[str, ...]:
        """Every instance that consumes at least one queue, in first-mention order."""
        return tuple(dict.fromkeys(i for instances in self._instances.values() for i in instances))


def celery_settings(broker_url: str, result_url: str, key_prefix: str = "",
                    visibility_timeout: int = 60) -> dict[str, Any]:
    """Celery settings every Ganglion process shares (DESIGN.md, "Streams, queues and config").

    ``task_acks_late`` + ``task_reject_on_worker_lost`` make delivery at-least-once (tasks are idempotent);
    prefetch 1 stops a writer from hoarding work another could do; ``task_create_missing_queues`` off means a
    message can only go to a declared queue. The visibility timeout (``redis.visibility_timeout``) bounds how
    long a message held by a dead worker waits before redelivery.
    """
    prefix = {"global_keyprefix": key_prefix} if key_prefix else {}
    return {
        "broker_url": broker_url,
        "result_backend": result_url,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_create_missing_queues": False,
        "task_ignore_result": True,
        "result_expires": 3600,
        # Sweep for messages whose visibility timed out several times per timeout, not once in ~100 s (kombu's
        # default of 10 s x every 10th call), so a killed worker's message comes back close to the timeout.
        "broker_transport_options": {"visibility_timeout": visibility_timeout,
                                     "unacked_restore_interval": max(1, visibility_timeout // 6),
                                     "unacked_restore_throttle": 1, **prefix},
        "result_backend_transport_options": {"retry_policy": {"timeout": 5.0}, **prefix},
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
    }
