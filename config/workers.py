"""The worker keys of Synapse's configuration (shared/seeds/workers.md), read into one frozen value.

They keep Synapse's meaning; :mod:`config.routing` turns them into Celery queues. The main process is
called ``main`` as in Synapse's ``instance_map``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from config.errors import ConfigError
from config.listeners import Listener, parse_listeners
from config.reader import Section

MAIN = "main"

# Streams that have a write path of their own. Synapse has the first six; Ganglion adds the others.
STREAMS = ("events", "typing", "to_device", "account_data", "receipts", "presence", "push_rules", "device_lists")

GENERIC_WORKER = "synapse.app.generic_worker"
MEDIA_REPOSITORY = "synapse.app.media_repository"
# Historical app names: equivalent to the generic worker (workers.md, "Historical apps").
HISTORICAL_APPS = frozenset(
    {
        "synapse.app.client_reader",
        "synapse.app.event_creator",
        "synapse.app.federation_reader",
        "synapse.app.federation_sender",
        "synapse.app.frontend_proxy",
        "synapse.app.pusher",
        "synapse.app.synchrotron",
        "synapse.app.appservice",
        "synapse.app.user_dir",
    }
)
WORKER_APPS = frozenset({GENERIC_WORKER, MEDIA_REPOSITORY, "synapse.app.homeserver"}) | HISTORICAL_APPS
DEPRECATED_KEYS = (
    "worker_replication_host",
    "worker_replication_http_port",
    "worker_replication_http_tls",
    "worker_replication_port",
    "worker_main_http_uri",
)


@dataclass(frozen=True)
class InstanceLocation:
    """Where an instance listens (``instance_map``); Ganglion uses it for naming and health, not for RPC."""

    host: str
    port: int | None
    path: str | None = None
    tls: bool = False


@dataclass(frozen=True)
class WorkerConfig:
    app: str | None = None
    name: str = MAIN
    listeners: tuple[Listener, ...] = ()
    log_config: str | None = None
    instance_map: Mapping[str, InstanceLocation] = field(default_factory=dict)
    stream_writers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    pusher_instances: tuple[str, ...] = ()
    start_pushers: bool = True
    federation_sender_instances: tuple[str, ...] = ()
    send_federation: bool = True
    appservice_instances: tuple[str, ...] = ()
    """Ganglion's key: the instances sending appservice transactions, appservices sharded between them by id
    (as ``pusher_instances`` shards users). ``notify_appservices_from_worker`` is its one-instance form."""
    notify_appservices_from_worker: str | None = None
    notify_appservices: bool = True
    update_user_directory_from_worker: str | None = None
    update_user_directory: bool = True
    run_background_tasks_on: str = MAIN
    media_instance_running_background_jobs: str | None = None
    enable_media_repo: bool = True
    outbound_federation_restricted_to: tuple[str, ...] = ()
    replication_secret: str | None = None
    replication_previous_secret: str | None = None
    """Ganglion's addition: during a rotation of ``worker_replication_secret``, messages signed with the old
    secret are still accepted (new ones are signed with the new secret); remove it once the queues have drained."""

    @property
    def is_main(self) -> bool:
        return self.name == MAIN

    @property
    def serves_media_repo(self) -> bool:
        """Whether this process serves the media repository: ``synapse.app.media_repository`` implies it even
        when the shared file sets ``enable_media_repo: false`` (which is there to keep it off the main process)."""
        return self.enable_media_repo or self.app == MEDIA_REPOSITORY

    def writers(self, stream: str) -> tuple[str, ...]:
        """The instances writing ``stream``; the main process when the config names none."""
        return self.stream_writers.get(stream) or (MAIN,)


# Legacy worker apps that claim a single-consumer role for themselves (workers.md: superseded by the key).
_LEGACY_ROLE_APPS = {
    "synapse.app.appservice": "notify_appservices_from_worker",
    "synapse.app.user_dir": "update_user_directory_from_worker",
}


def _single_instance(top: Section, key: str) -> str | None:
    """A role only one instance may hold: its queue has a single consumer, so a list of two is a conflict."""
    value = top.raw(key)
    if value is None:
        return None
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        value = value[0]
    if isinstance(value, list) and len(value) > 1:
        raise ConfigError(top.path_of(key), f"only one instance may hold this role, got {len(value)}: {value!r}")
    if not isinstance(value, str) or not value:
        raise ConfigError(top.path_of(key), f"expected one instance name, got {value!r}")
    return value


def _legacy_role(top: Section, app: str | None, name: str | None, key: str, value: str | None) -> str | None:
    """``synapse.app.appservice``/``user_dir`` name their own worker for the role their key now holds; naming
    another instance there would make two instances claim a single-consumer role."""
    if app is None or _LEGACY_ROLE_APPS.get(app) != key:
        return value
    if value is not None and value != name:
        raise ConfigError(top.path_of(key), (
            f"names {value!r}, but worker_app {app} makes {name!r} claim the same single-instance role"))
    return name


def _appservice_senders(top: Section, app: str | None, name: str | None) -> tuple[tuple[str, ...], str | None]:
    """(``appservice_instances``, ``notify_appservices_from_worker``): at most one of them set, since both would
    name two answers to one question. A legacy ``synapse.app.appservice`` worker must be one of the listed
    instances, as it would otherwise claim appservices the list gives to others."""
    instances = top.texts("appservice_instances", ())
    if len(set(instances)) != len(instances):
        raise ConfigError(top.path_of("appservice_instances"), "lists an instance twice")
    single = _single_instance(top, "notify_appservices_from_worker")
    if not instances:
        return (), _legacy_role(top, app, name, "notify_appservices_from_worker", single)
    if single is not None:
        raise ConfigError(top.path_of("appservice_instances"), (
            "and notify_appservices_from_worker are both set; keep one: appservice_instances (a list, appservices "
            "sharded by id) or notify_appservices_from_worker (its one-instance form)"))
    if app is not None and _LEGACY_ROLE_APPS.get(app) == "notify_appservices_from_worker" and name not in instances:
        raise ConfigError(top.path_of("worker_app"), (
            f"{app} makes {name!r} send appservice transactions, but appservice_instances does not list it"))
    return instances, None


def parse_workers(top: Section, warnings: list[str]) -> WorkerConfig:
    app = top.text("worker_app", None)
    if app is not None and app not in WORKER_APPS:
        raise ConfigError(top.path_of("worker_app"), f"unknown worker app {app!r}; use {GENERIC_WORKER}")
    if app in HISTORICAL_APPS:
        warnings.append(f"{top.path_of('worker_app')}: {app} is a historical name for {GENERIC_WORKER}")
    name = top.text("worker_name", None)
    if app and app != "synapse.app.homeserver" and not name:
        raise ConfigError(top.path_of("worker_name"), "is required when worker_app is set")
    for key in DEPRECATED_KEYS:
        if top.has(key):
            warnings.append(f"{top.path_of(key)}: deprecated and ignored (Redis and Celery replace it)")
        top.raw(key)
    top.raw("worker_daemonize")
    top.raw("worker_pid_file")

    instance_map: dict[str, InstanceLocation] = {}
    map_section = top.section("instance_map")
    for instance in map_section.mapping_keys():
        entry = map_section.section(instance)
        path = entry.text("path", None)
        instance_map[instance] = InstanceLocation(
            host=entry.text("host", "localhost"),
            port=None if path else entry.integer("port", minimum=1),
            path=path,
            tls=entry.flag("tls", False),
        )

    writers_section = top.section("stream_writers")
    stream_writers: dict[str, tuple[str, ...]] = {}
    for stream in writers_section.mapping_keys():
        if stream not in STREAMS:
            raise ConfigError(writers_section.path_of(stream), f"unknown stream; known: {', '.join(STREAMS)}")
        writers = writers_section.texts(stream)
        if len(set(writers)) != len(writers):
            raise ConfigError(writers_section.path_of(stream), "lists an instance twice")
        stream_writers[stream] = writers

    appservice_instances, notify_appservices_from_worker = _appservice_senders(top, app, name)
    return WorkerConfig(
        app=app,
        name=name or MAIN,
        listeners=parse_listeners(top.sections("worker_listeners")),
        log_config=top.text("worker_log_config", None),
        instance_map=instance_map,
        stream_writers=stream_writers,
        pusher_instances=top.texts("pusher_instances", ()),
        start_pushers=top.flag("start_pushers", True),
        federation_sender_instances=top.texts("federation_sender_instances", ()),
        send_federation=top.flag("send_federation", True),
        appservice_instances=appservice_instances,
        notify_appservices_from_worker=notify_appservices_from_worker,
        notify_appservices=top.flag("notify_appservices", True),
        update_user_directory_from_worker=_legacy_role(
            top, app, name, "update_user_directory_from_worker",
            _single_instance(top, "update_user_directory_from_worker")),
        update_user_directory=top.flag("update_user_directory", True),
        run_background_tasks_on=_single_instance(top, "run_background_tasks_on") or MAIN,
        media_instance_running_background_jobs=_single_instance(top, "media_instance_running_background_jobs"),
        enable_media_repo=top.flag("enable_media_repo", True),
        outbound_federation_restricted_to=top.texts("outbound_federation_restricted_to", ()),
        replication_secret=top.text("worker_replication_secret", None),
        replication_previous_secret=top.text("worker_replication_previous_secret", None),
    )
