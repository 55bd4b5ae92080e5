"""The ``database`` and ``redis`` sections, in Synapse's shape."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from config.errors import ConfigError
from config.reader import Section

_ENGINES = ("sqlite3", "psycopg2")


@dataclass(frozen=True)
class DatabaseConfig:
    """Which database, and how to reach it. ``url`` is the SQLAlchemy URL both shapes connect with."""

    engine: str
    url: str
    pool_min: int = 5
    pool_max: int = 10

    @property
    def is_sqlite(self) -> bool:
        return self.engine == "sqlite3"


def parse_database(section: Section, default_sqlite_path: str) -> DatabaseConfig:
    name = section.text("name", "sqlite3")
    if name not in _ENGINES:
        raise ConfigError(section.path_of("name"), f"must be one of {', '.join(_ENGINES)}, got {name!r}")
    args = section.section("args")
    if name == "sqlite3":
        path = args.text("database", default_sqlite_path)
        # Synapse accepts extra driver args for sqlite; Ganglion sets its own pragmas instead.
        args.raw("cp_min")
        args.raw("cp_max")
        return DatabaseConfig(engine=name, url="sqlite://" if path == ":memory:" else f"sqlite:///{path}")
    user = args.text("user", "postgres")
    password = args.text("password", None)
    dbname = args.text("dbname", None) or args.text("database", None)
    if not dbname:
        raise ConfigError(args.path_of("dbname"), "is required for psycopg2 (or give 'database')")
    host = args.text("host", "localhost")
    port = args.integer("port", 5432, minimum=1)
    pool_min = args.integer("cp_min", 5, minimum=0)
    pool_max = args.integer("cp_max", 10, minimum=1)
    if pool_min > pool_max:
        raise ConfigError(args.path_of("cp_min"), f"is larger than cp_max ({pool_min} > {pool_max})")
    for synapse_only in ("keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "sslmode"):
        args.raw(synapse_only)
    section.raw("allow_unsafe_locale")
    section.raw("txn_limit")
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    if host.startswith("/"):
        url = f"postgresql+psycopg2://{auth}@/{dbname}?host={quote(host, safe='/')}"
    else:
        url = f"postgresql+psycopg2://{auth}@{host}:{port}/{dbname}"
    return DatabaseConfig(engine=name, url=url, pool_min=pool_min, pool_max=pool_max)


@dataclass(frozen=True)
class RedisConfig:
    """Redis is the Celery broker, the result store and the replication doorbell in the worker shape."""

    enabled: bool
    url: str
    key_prefix: str = ""
    """Ganglion's addition: prepended to every Redis key and channel, so servers can share one Redis."""
    visibility_timeout: int = 60
    """Ganglion's addition (seconds): how long a task message taken by a worker that then dies unannounced
    (SIGKILL, power loss) stays invisible before Redis hands it to a consumer again. It must exceed the longest
    task (or a slow task runs twice: harmless, tasks are idempotent, but wasted) and should stay short, since it is
    how long a killed writer's work waits. 60 s is twice the web tier's 30 s wait for a result and far above any
    task Ganglion runs (a createRoom with its initial events takes well under a second)."""
    result_timeout: int = 30
    """Ganglion's addition (seconds): the longest a web request waits for its task's result before it answers
    503 (and the task is refused for good, ``tasks/ledger.py``). Keep it below ``visibility_timeout``."""


def parse_redis(section: Section) -> RedisConfig:
    enabled = section.flag("enabled", False)
    host = section.text("host", "localhost")
    port = section.integer("port", 6379, minimum=1)
    path = section.text("path", None)
    dbid = section.integer("dbid", 0, minimum=0)
    password = section.text("password", None)
    use_tls = section.flag("use_tls", False)
    key_prefix = section.text("key_prefix", "")
    visibility_timeout = section.integer("visibility_timeout", 60, minimum=5)
    result_timeout = section.integer("result_timeout", 30, minimum=1)
    auth = f":{quote(password, safe='')}@" if password else ""
    if path:
        url = f"redis+socket://{auth}{path}?db={dbid}"
    else:
        url = f"{'rediss' if use_tls else 'redis'}://{auth}{host}:{port}/{dbid}"
    return RedisConfig(enabled=enabled, url=url, key_prefix=key_prefix, visibility_timeout=visibility_timeout,
                       result_timeout=result_timeout)
