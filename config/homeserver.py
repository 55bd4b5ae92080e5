"""The whole ``homeserver.yaml`` (plus per-worker files) as one frozen :class:`HomeserverConfig`.

Several files may be given; as with Synapse's repeated ``--config-file``, a later file's top-level keys replace
an earlier file's. Every error names the file and YAML path; keys nobody reads are returned as warnings.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from config.accounts import (
    PasswordConfig,
    RegistrationConfig,
    SessionConfig,
    parse_passwords,
    parse_registration,
    parse_sessions,
)
from config.appservices import parse_appservices
from config.consistency import check_workers
from config.database import DatabaseConfig, RedisConfig, parse_database, parse_redis
from config.email import EmailConfig, parse_email
from config.errors import ConfigError
from config.federation import FederationConfig, parse_federation
from config.listeners import Listener, parse_listeners
from config.media import MediaConfig, parse_media
from config.presence import PresenceConfig, parse_presence
from config.ratelimits import RateLimits, parse_ratelimits
from config.reader import Section
from config.routing import RoutingTable
from config.user_directory import UserDirectoryConfig, parse_user_directory
from config.workers import WorkerConfig, parse_workers
from protocol.appservices import AppServices
from protocol.identifiers import is_valid_server_name
from protocol.room_versions import DEFAULT_ROOM_VERSION, KNOWN_ROOM_VERSIONS

# Keys of Synapse's homeserver.yaml that make sense only for Synapse's own process model or features Ganglion
# does not have; accepted silently so an admin's existing config loads without noise.
_SYNAPSE_ONLY_KEYS = (
    "report_stats", "pid_file", "macaroon_secret_key", "form_secret",
    "suppress_key_server_warning",
    "room_list_publication_rules", "alias_creation_rules",
    "web_client_location",
)


@dataclass(frozen=True)
class HomeserverConfig:
    server_name: str
    public_baseurl: str
    listeners: tuple[Listener, ...]
    database: DatabaseConfig
    redis: RedisConfig
    signing_key_path: str
    log_config: str | None
    registration: RegistrationConfig
    passwords: PasswordConfig
    sessions: SessionConfig
    ratelimits: RateLimits
    workers: WorkerConfig
    serve_server_wellknown: bool = False
    max_request_size: int = 1024 * 1024
    user_directory: UserDirectoryConfig = field(default_factory=UserDirectoryConfig)
    presence: PresenceConfig = field(default_factory=PresenceConfig)
    federation: FederationConfig = field(default_factory=FederationConfig)
    tls_certificate_path: str | None = None
    tls_private_key_path: str | None = None
    """Served on listeners with ``tls: true`` (Synapse's keys): the certificate chain and its private key."""
    media: MediaConfig = field(default_factory=MediaConfig)
    enable_metrics: bool = False
    """Synapse's switch for Prometheus metrics: with it, ``metrics`` listeners serve ``/metrics``."""
    default_room_version: str = DEFAULT_ROOM_VERSION
    """The version of rooms created without one (``createRoom``) and the ``m.room_versions`` default."""
    insecure_outbound_tls: bool = False
    """Synapse's ``use_insecure_ssl_client_just_for_testing_do_not_use``: outbound HTTPS to push gateways and
    application services does not verify certificates (SyTest's have certificates of its own making), nor do the
    federation and URL-preview clients (``federation.verify_certificates``, ``media.url_preview.verify_tls``, set
    from this one reading). Never in production."""
    appservices: AppServices = field(default_factory=AppServices)
    """The registrations of ``app_service_config_files`` (``config/appservices.py``)."""
    enable_ephemeral_messages: bool = False
    """Synapse's switch for MSC2228: a message with ``org.matrix.self_destruct_after`` is pruned at that time."""
    email: EmailConfig = field(default_factory=EmailConfig)
    """Synapse's ``email`` section: SMTP and missed-message notifications (``config/email.py``)."""
    warnings: tuple[str, ...] = field(default=(), compare=False)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def routing(self) -> RoutingTable:
        return RoutingTable(self.workers)

    @property
    def process_listeners(self) -> tuple[Listener, ...]:
        """This process's listeners: the worker's own when it has any, else the shared ones."""
        return self.workers.listeners or self.listeners

    @property
    def http_listeners(self) -> tuple[Listener, ...]:
        return tuple(listener for listener in self.process_listeners if listener.type == "http")

    @property
    def metrics_listeners(self) -> tuple[Listener, ...]:
        """Where this process serves Prometheus metrics: ``type: metrics`` listeners, when ``enable_metrics``."""
        if not self.enable_metrics:
            return ()
        return tuple(listener for listener in self.process_listeners if listener.type == "metrics")


def parse_config(data: Mapping[str, Any], origin: Mapping[str, str] | None = None,
                 base_dir: str = ".") -> HomeserverConfig:
    """Validate merged YAML data; ``origin`` maps each top-level key to the file that set it."""
    top = Section(data, "", origin)
    warnings: list[str] = []

    server_name = top.text("server_name")
    if not is_valid_server_name(server_name):
        raise ConfigError(top.path_of("server_name"), f"{server_name!r} is not a valid Matrix server name")
    public_baseurl = top.text("public_baseurl", None) or f"https://{server_name}/"
    if not public_baseurl.startswith(("http://", "https://")):
        raise ConfigError(top.path_of("public_baseurl"), "must start with http:// or https://")
    if not public_baseurl.endswith("/"):
        public_baseurl += "/"

    def resolve(path: str) -> str:
        return path if os.path.isabs(path) else os.path.normpath(os.path.join(base_dir, path))

    database = parse_database(top.section("database"), resolve("homeserver.db"))
    redis = parse_redis(top.section("redis"))
    workers = parse_workers(top, warnings)
    if workers.log_config is not None:
        workers = replace(workers, log_config=resolve(workers.log_config))
    if workers.app is not None and not workers.is_main and database.is_sqlite:
        raise ConfigError(top.path_of("database"), "workers share one database: use psycopg2, not sqlite3")
    if workers.app is not None and not workers.is_main and not redis.enabled:
        raise ConfigError(top.path_of("redis"), "workers need redis.enabled: true (broker and replication)")
    max_request = top.integer("max_request_size", 1024 * 1024, minimum=1024)
    # One reading for every outbound client (federation, URL previews, push gateways, application services).
    insecure_outbound_tls = top.flag("use_insecure_ssl_client_just_for_testing_do_not_use", False)
    config = HomeserverConfig(
        server_name=server_name,
        public_baseurl=public_baseurl,
        listeners=parse_listeners(top.sections("listeners")),
        database=database,
        redis=redis,
        signing_key_path=resolve(top.text("signing_key_path", f"{server_name}.signing.key")),
        log_config=(resolve(top.text("log_config")) if top.has("log_config") else None),
        registration=parse_registration(top),
        passwords=parse_passwords(top),
        sessions=parse_sessions(top),
        ratelimits=parse_ratelimits(top),
        workers=workers,
        serve_server_wellknown=top.flag("serve_server_wellknown", False),
        max_request_size=max_request,
        user_directory=parse_user_directory(top),
        presence=parse_presence(top),
        media=parse_media(top, resolve(top.text("media_store_path", "media_store")),
                          insecure_outbound_tls=insecure_outbound_tls),
        enable_metrics=top.flag("enable_metrics", False),
        federation=parse_federation(top, insecure_outbound_tls=insecure_outbound_tls),
        tls_certificate_path=resolve(top.text("tls_certificate_path")) if top.has("tls_certificate_path") else None,
        tls_private_key_path=resolve(top.text("tls_private_key_path")) if top.has("tls_private_key_path") else None,
        default_room_version=_default_room_version(top),
        insecure_outbound_tls=insecure_outbound_tls,
        appservices=parse_appservices(top, server_name, resolve, warnings),
        enable_ephemeral_messages=top.flag("enable_ephemeral_messages", False),
        email=parse_email(top, public_baseurl),
        raw=dict(data),
    )
    check_workers(top, workers, config.routing)
    _check_tls(top, config)
    for key in _SYNAPSE_ONLY_KEYS:
        top.raw(key)
    warnings.extend(f"{path}: unknown key, ignored" for path in top.unknown_keys())
    return replace(config, warnings=tuple(warnings))


def _check_tls(top: Section, config: HomeserverConfig) -> None:
    """One server (gunicorn) serves every listener of a process: all of them TLS with one certificate, or none."""
    tls = {listener.tls for listener in config.http_listeners}
    if True not in tls:
        return
    if len(tls) > 1:
        raise ConfigError(top.path_of("listeners"), "a process serves TLS on all its http listeners or on none")
    for key in ("tls_certificate_path", "tls_private_key_path"):
        if not top.has(key):
            raise ConfigError(top.path_of(key), "is required by listeners with tls: true")


def _default_room_version(top: Section) -> str:
    """Synapse's ``default_room_version``; YAML may give it as a number (``10``), as Synapse accepts."""
    value = top.raw("default_room_version", DEFAULT_ROOM_VERSION)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigError(top.path_of("default_room_version"), "must be a room version such as \"10\"")
    version = str(value)
    if version not in KNOWN_ROOM_VERSIONS:
        known = ", ".join(KNOWN_ROOM_VERSIONS)
        raise ConfigError(top.path_of("default_room_version"), f"unknown room version {version!r} (known: {known})")
    return version


def read_yaml_files(paths: Iterable[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Load and merge config files; later files win per top-level key, as in Synapse."""
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                data = yaml.safe_load(handle)
        except OSError as error:
            raise ConfigError(path, f"cannot read: {error.strerror}") from None
        except yaml.YAMLError as error:
            raise ConfigError(path, f"is not valid YAML: {error}") from None
        if data is None:
            continue
        if not isinstance(data, dict):
            raise ConfigError(path, "the top level must be a mapping")
        for key, value in data.items():
            merged[str(key)] = value
            origin[str(key)] = path
    return merged, origin


def load_config(paths: list[str]) -> HomeserverConfig:
    """Read, merge and validate the given files. Relative paths inside resolve against the first file."""
    if not paths:
        raise ConfigError("", "no configuration file given")
    data, origin = read_yaml_files(paths)
    show_origin = origin if len(paths) > 1 else None
    return parse_config(data, show_origin, base_dir=os.path.dirname(os.path.abspath(paths[0])))
