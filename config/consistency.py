"""Cross-key checks of the worker keys: a config whose parts contradict each other stops at start.

Each key of :mod:`config.workers` is valid on its own; these rules are about how they fit together, and every
failure names the YAML path of the key that breaks the rule. They follow Synapse's observable behaviour
(shared/seeds/workers.md) where it has a rule, and Ganglion's queue model where it is stricter:

- With an ``instance_map``, every instance given a role must be in it (``main`` is implicit): a writer or sender
  missing there is almost always a typo, and its queue would never be consumed.
- Single-consumer roles (user directory, background, media jobs, and ``notify_appservices_from_worker``, the
  one-instance form of ``appservice_instances``) take exactly one instance.
- ``outbound_federation_restricted_to`` must name exactly the federation senders: in Ganglion all outbound
  federation runs on the senders' queues, so a restricted instance that is not a sender sends nothing, and a sender
  outside the list would break the restriction.
- A worker that consumes no queue and serves no HTTP listener does nothing; that is an error, not a warning,
  because it usually means its ``worker_name`` differs from the name the shared file gives its role, which leaves
  that role's queue without a consumer.
"""

from __future__ import annotations

from config.errors import ConfigError
from config.listeners import Listener
from config.reader import Section
from config.routing import RoutingTable
from config.workers import MAIN, STREAMS, WorkerConfig


def _role_instances(workers: WorkerConfig) -> list[tuple[str, str]]:
    """(YAML key, instance) for every instance the config gives a role."""
    roles = [(f"stream_writers.{stream}", name)
             for stream in STREAMS for name in workers.stream_writers.get(stream, ())]
    roles += [("federation_sender_instances", name) for name in workers.federation_sender_instances]
    roles += [("pusher_instances", name) for name in workers.pusher_instances]
    roles += [("appservice_instances", name) for name in workers.appservice_instances]
    roles += [("outbound_federation_restricted_to", name) for name in workers.outbound_federation_restricted_to]
    single = {
        "notify_appservices_from_worker": workers.notify_appservices_from_worker,
        "update_user_directory_from_worker": workers.update_user_directory_from_worker,
        "run_background_tasks_on": workers.run_background_tasks_on,
        "media_instance_running_background_jobs": workers.media_instance_running_background_jobs,
    }
    roles += [(key, name) for key, name in single.items() if name is not None]
    return roles


def check_instance_map(top: Section, workers: WorkerConfig) -> None:
    if not workers.instance_map:
        return
    for key, name in _role_instances(workers):
        if name != MAIN and name not in workers.instance_map:
            raise ConfigError(top.path_of(key), f"instance {name!r} has this role but is missing from instance_map")


def check_outbound_federation(top: Section, workers: WorkerConfig, routing: RoutingTable) -> None:
    restricted = workers.outbound_federation_restricted_to
    if not restricted:
        return
    senders = routing.instances("federation")
    path = top.path_of("outbound_federation_restricted_to")
    for name in restricted:
        if name not in senders:
            raise ConfigError(path, f"{name!r} is not a federation sender (federation_sender_instances: "
                                    f"{', '.join(senders) or 'none'}), so it would send nothing")
    for name in senders:
        if name not in restricted:
            raise ConfigError(path, f"federation sender {name!r} sends outbound federation but is not listed here")


def check_worker_does_something(top: Section, workers: WorkerConfig, routing: RoutingTable,
                                listeners: tuple[Listener, ...]) -> None:
    if workers.app is None or workers.is_main or workers.app == "synapse.app.homeserver":
        return
    serves_http = any(listener.type == "http" for listener in listeners)
    if not serves_http and not routing.queues_for_instance(workers.name):
        raise ConfigError(top.path_of("worker_name"), (
            f"instance {workers.name!r} consumes no queue and serves no HTTP listener: give it a role "
            "(stream_writers, *_instances, *_from_worker, run_background_tasks_on) or an http worker_listener"))


def check_workers(top: Section, workers: WorkerConfig, routing: RoutingTable) -> None:
    """Every cross-key rule of the worker keys; raises the first :class:`ConfigError` found."""
    check_instance_map(top, workers)
    check_outbound_federation(top, workers, routing)
    check_worker_does_something(top, workers, routing, workers.listeners)
