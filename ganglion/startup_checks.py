"""What a process checks before it migrates or serves, so that a start-up failure is one line naming the config key,
what is wrong and what to do, instead of a driver's traceback after retries.

Each check fails fast: one connection attempt with a short timeout to the database and to Redis, one trial bind of
each listener, one write into each directory the process will write to, one read of the signing key. ``ganglion
--debug`` shows the traceback of whatever went wrong as well.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import tempfile
from collections.abc import Sequence

from config import HomeserverConfig
from config.listeners import Listener

CONNECT_TIMEOUT_SECONDS = 3
"""Long enough for a database or Redis on another machine of the same network, short enough that a typo in a
host name or port is reported at once rather than after a client library's retries."""


class StartupError(Exception):
    """The process cannot start; ``key`` is the config key to look at, ``advice`` what to do about it."""

    def __init__(self, key: str, problem: str, advice: str) -> None:
        super().__init__(f"{key}: {problem}; {advice}")
        self.key = key


def check_startup(config: HomeserverConfig, config_dir: str, listeners: Sequence[Listener] = ()) -> None:
    """Everything a process of either shape needs before it migrates, and the ``listeners`` it will serve."""
    check_writable_directories(config, config_dir)
    check_signing_key(config.signing_key_path)
    check_database(config)
    if config.redis.enabled:
        check_redis(config)
    check_ports(config, listeners)


def writable_directories(config: HomeserverConfig, config_dir: str) -> list[tuple[str, str]]:
    """(config key, directory) for every directory this server writes files into."""
    directories = []
    if config.database.is_sqlite and config.database.url != "sqlite://":
        directories.append(("database.args.database", os.path.dirname(_sqlite_path(config.database.url))))
    if not os.path.exists(config.signing_key_path):
        directories.append(("signing_key_path", os.path.dirname(config.signing_key_path)))
    media = config.raw.get("media_store_path")
    if isinstance(media, str) and media:
        directories.append(("media_store_path", os.path.join(config_dir, media)))
    return directories


def check_writable_directories(config: HomeserverConfig, config_dir: str) -> None:
    for key, directory in writable_directories(config, config_dir):
        try:
            os.makedirs(directory, exist_ok=True)
            with tempfile.TemporaryFile(dir=directory):
                pass
        except OSError as error:
            raise StartupError(key, f"cannot write to {directory} ({error.strerror})",
                               "make it writable for this user, or point the key at a directory that is") from error


def check_signing_key(path: str) -> None:
    """An existing key must load; a missing one is generated later."""
    from persistence.signing_key import load_signing_key

    if not os.path.exists(path):
        return
    try:
        load_signing_key(path)
    except OSError as error:
        raise StartupError("signing_key_path", f"cannot read {path} ({error.strerror})",
                           "make it readable for this user") from error
    except Exception as error:  # signedjson raises whatever the malformed line makes it raise
        raise StartupError(
            "signing_key_path", f"{path} is not a signing key ({error or type(error).__name__})",
            "restore the file from a backup, or move it away to have a new key generated (other servers will "
            "then see this server's new key)") from error


def check_database(config: HomeserverConfig) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.pool import NullPool

    if config.database.is_sqlite:
        return
    url = make_url(config.database.url)
    where = f"{url.host or url.query.get('host') or 'localhost'}:{url.port or 5432}"
    engine = create_engine(url, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS}, poolclass=NullPool)
    try:
        with engine.connect():
            pass
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig is not None else str(error)
        raise StartupError(
            "database.args", f"cannot connect to PostgreSQL database {url.database!r} at {where} ({reason})",
            "start PostgreSQL, or correct host, port, user, password and dbname under database.args") from error
    finally:
        engine.dispose()


def check_redis(config: HomeserverConfig) -> None:
    import redis

    client = redis.Redis.from_url(config.redis.url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
                                  socket_timeout=CONNECT_TIMEOUT_SECONDS)
    where = _redis_address(client)
    try:
        client.ping()
    except redis.RedisError as error:
        raise StartupError("redis", f"cannot reach Redis at {where} ({error})",
                           "start Redis, or correct redis.host, redis.port (or redis.path) and redis.password"
                           ) from error
    finally:
        client.close()


def _redis_address(client: object) -> str:
    kwargs = client.connection_pool.connection_kwargs  # type: ignore[attr-defined]
    if "path" in kwargs:
        return str(kwargs["path"])
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


def check_ports(config: HomeserverConfig, served: Sequence[Listener]) -> None:
    """A trial bind of each TCP listener this process serves, as gunicorn will bind it (with SO_REUSEADDR);
    gunicorn itself would retry a taken port five times, a second apart, then exit with a bare "Can't connect"."""
    key = "worker_listeners" if config.workers.listeners else "listeners"
    for index, listener in enumerate(config.process_listeners):
        if listener not in served or listener.path or not listener.port:
            continue
        for address in listener.bind_addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            with contextlib.closing(socket.socket(family, socket.SOCK_STREAM)) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((address, listener.port))
                except OSError as error:
                    where = f"[{address}]:{listener.port}" if ":" in address else f"{address}:{listener.port}"
                    problem = (f"{where} is already in use" if error.errno == errno.EADDRINUSE
                               else f"cannot listen on {where} ({error.strerror})")
                    raise StartupError(
                        f"{key}[{index}].port", problem,
                        "stop the process using it (another Ganglion?) or choose another port") from error


def _sqlite_path(url: str) -> str:
    return os.path.abspath(url.removeprefix("sqlite:///"))
