"""Fixtures: real PostgreSQL, Redis and Celery for the worker shape; SQLite and inline tasks for the monolith."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from config import parse_config
from config.database import DatabaseConfig
from persistence import migrate
from persistence.database import Database
from persistence.tables import metadata
from tests.clock import FakeClock
from tests.homeserver import HomeserverUnderTest, base_config_data
from tests.services import (
    PG_HOST,
    PG_PORT,
    PG_USER,
    drop_pg_database,
    pg_database_args,
    recreate_pg_database,
    redis_client,
    redis_db_for,
    worker_index,
)
from tests.smtp_server import SmtpServer, running_smtp_server, shared_email_config

SHAPES = ("monolith", "workers")


@pytest.fixture(scope="session")
def worker_slot(worker_id: str) -> int:
    return worker_index(worker_id)


# Databases and Redis keys carry the test process's pid, so test runs sharing a machine never collide.
RUN_ID = f"{os.getpid()}"


@pytest.fixture(scope="session")
def pg_database_name(worker_slot: int) -> Iterator[str]:
    name = f"ganglion_test_{RUN_ID}"
    recreate_pg_database(name)
    database = Database(parse_config(_data_for("workers", name, 0)).database)
    migrate.upgrade(database)
    database.dispose()
    yield name
    drop_pg_database(name)


@pytest.fixture(scope="session")
def redis_db(worker_slot: int) -> Iterator[int]:
    db = redis_db_for(worker_slot)
    yield db
    client = redis_client(db)
    for key in client.scan_iter(match=f"test{RUN_ID}:*"):
        client.delete(key)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied per test: migrating once keeps the suite fast."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    database = Database(DatabaseConfig("sqlite3", f"sqlite:///{path}"))
    migrate.upgrade(database)
    with database.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database.dispose()
    return path


def _data_for(shape: str, pg_name: str, redis_db: int, sqlite_path: str = ":memory:") -> dict[str, Any]:
    data = base_config_data()
    data["enable_ephemeral_messages"] = True  # as SyTest runs it; every process of the test server must agree
    if shape == "workers":
        data["database"] = {"name": "psycopg2", "args": pg_database_args(pg_name)}
        data["redis"] = {"enabled": True, "host": "127.0.0.1", "port": 6379, "dbid": redis_db,
                         "key_prefix": f"test{RUN_ID}:"}
    else:
        data["database"] = {"name": "sqlite3", "args": {"database": sqlite_path}}
    return data


@pytest.fixture(scope="session")
def shared_smtp_server() -> Iterator[SmtpServer]:
    """The SMTP server (aiosmtpd) the shared Celery worker mails to: a worker-shape test of email goes through
    the worker, as a deployment's does."""
    with running_smtp_server() as server:
        yield server


@pytest.fixture(scope="session")
def celery_worker(pg_database_name: str, redis_db: int, tmp_path_factory: pytest.TempPathFactory,
                  shared_smtp_server: SmtpServer) -> Iterator[Path]:
    """A real ``ganglion worker main`` process consuming every queue, shared by all worker-shape tests; its
    ``email`` section is :func:`~tests.smtp_server.shared_email_config` (only tests that sweep email pushers with
    the same section make it mail)."""
    data = {**_data_for("workers", pg_database_name, redis_db),
            "email": shared_email_config(shared_smtp_server.port)}
    # The worker plans its queues from the shard maps in the database when it starts, and a store test before
    # it may have left some (tests/tasks/test_resharding.py): without this it could start without events.main.
    database = Database(parse_config(data).database)
    _reset_postgres(database)
    database.dispose()
    with running_worker(data, tmp_path_factory.mktemp("celery")) as config_path:
        yield config_path


@contextmanager
def running_worker(data: dict[str, Any], directory: Path) -> Iterator[Path]:
    """``ganglion worker main`` on the config ``data`` (written to ``directory``), answering pings until the
    block ends; yields the config file's path."""
    config_path = directory / "homeserver.yaml"
    config_path.write_text(yaml.safe_dump(data))
    log_path = directory / "worker.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ganglion.cli", "worker", "main", "--config", str(config_path),
             "--concurrency", "2"],
            stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_worker(config_path, process, log_path)
        yield config_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_for_worker(config_path: Path, process: subprocess.Popen[bytes], log_path: Path) -> None:
    from config import load_config
    from config.pools import plan_pools
    from tasks.app import create_celery

    config = load_config([str(config_path)])
    app = create_celery(config)
    # main runs two Celery processes (its ordered and its concurrent pool): wait for both.
    nodes = len(plan_pools(config.routing, "main", 1))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"celery worker exited:\n{log_path.read_text()}")
        if len(app.control.ping(timeout=0.5)) >= nodes:
            return
    raise RuntimeError(f"celery worker did not answer pings:\n{log_path.read_text()}")


def _reset_postgres(database: Database) -> None:
    """Empty every table for the next test. A task the previous test poked may still be running in the shared
    Celery worker; if its locks and the TRUNCATE's deadlock, PostgreSQL aborts one of them: try again."""
    tables = ", ".join(table.name for table in metadata.sorted_tables if table.name != "stream_counters")
    for attempt in range(5):
        try:
            with database.write() as conn:
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            return
        except OperationalError as error:
            if "deadlock detected" not in str(error) or attempt == 4:
                raise
            time.sleep(0.1)


HomeserverFactory = Callable[..., HomeserverUnderTest]


@pytest.fixture(params=SHAPES)
def shape(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_homeserver(shape: str, request: pytest.FixtureRequest, tmp_path: Path,
                    sqlite_template: Path) -> Iterator[HomeserverFactory]:
    """Build the server under test; keyword arguments override config keys for this test."""
    from ganglion.wiring import build_monolith, build_web_worker
    from web.app import create_app

    built: list[HomeserverUnderTest] = []

    def factory(**overrides: Any) -> HomeserverUnderTest:
        clock = FakeClock()
        if shape == "workers":
            pg_name = request.getfixturevalue("pg_database_name")
            db = request.getfixturevalue("redis_db")
            request.getfixturevalue("celery_worker")
            config = parse_config({**_data_for("workers", pg_name, db), **overrides})
            deps = build_web_worker(config, clock)
            _reset_postgres(deps.database)
            client = redis_client(db)
            for key in client.scan_iter(match=f"test{RUN_ID}:ganglion:*:ratelimit:*"):
                client.delete(key)
        else:
            sqlite_path = tmp_path / f"homeserver{len(built)}.db"
            shutil.copy(sqlite_template, sqlite_path)
            config = parse_config({**_data_for("monolith", "", 0, str(sqlite_path)), **overrides})
            deps = build_monolith(config, clock).deps
        server = HomeserverUnderTest(shape, config, deps, create_app(config, deps), clock)
        built.append(server)
        return server

    yield factory
    for server in built:
        server.deps.doorbell.close()
        server.deps.database.dispose()


@pytest.fixture
def homeserver(make_homeserver: HomeserverFactory) -> HomeserverUnderTest:
    return make_homeserver()


@pytest.fixture
def make_homeserver_with_worker(shape: str, make_homeserver: HomeserverFactory, request: pytest.FixtureRequest,
                                tmp_path: Path) -> Iterator[HomeserverFactory]:
    """As ``make_homeserver``, but in the worker shape each server gets a Celery worker of its own, started on
    the same config (its own Redis key prefix, so the session's shared worker never takes its tasks). For tasks
    that must see this test's config: a ``federation_test_hosts`` naming a server started for the test, a
    ``max_upload_size``. A worker start costs a few seconds; tests that need no such config use the shared one."""
    if shape != "workers":
        yield make_homeserver
        return
    started: list[Path] = []
    with ExitStack() as workers:

        def factory(**overrides: Any) -> HomeserverUnderTest:
            number = len(started)  # one key prefix per worker this test starts
            data = _data_for("workers", request.getfixturevalue("pg_database_name"),
                             request.getfixturevalue("redis_db"))
            redis = {**data["redis"], "key_prefix": f"test{RUN_ID}:own{number}:"}
            server = make_homeserver(**overrides, redis=redis)  # resets the database before the worker plans
            directory = tmp_path / f"own-worker{number}"
            directory.mkdir()
            started.append(workers.enter_context(running_worker({**data, **overrides, "redis": redis}, directory)))
            return server

        yield factory


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``pytest -n``'s default load scheduling, keeping the tests that share a started server on one worker
    (tests/scheduling.py); an explicit ``--dist`` other than load is left to pytest-xdist."""
    if config.getvalue("dist") != "load":
        return None
    from tests.scheduling import SharedServerScheduling

    return SharedServerScheduling(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("shape") == "workers":
            item.add_marker(pytest.mark.workers)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        path = tmp_path / "store.db"
        shutil.copy(sqlite_template, path)
        db = Database(DatabaseConfig("sqlite3", f"sqlite:///{path}"))
    else:
        name = request.getfixturevalue("pg_database_name")
        db = Database(DatabaseConfig("psycopg2", f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"))
        _reset_postgres(db)
    yield db
    db.dispose()
