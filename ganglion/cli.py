"""``ganglion``: one command for every process of both shapes, plus the admin chores.

  ganglion run                 the monolith (SQLite, inline tasks); writes ./homeserver.yaml on first run
  ganglion web                 gunicorn web workers of the worker shape
  ganglion worker NAME         the Celery worker of instance NAME, consuming exactly its queues
  ganglion beat                Celery beat with the periodic jobs
  ganglion routes             the queue routing table; --nginx a reverse-proxy config; --metrics a scrape config
  ganglion migrate             bring the database schema up to date
  ganglion shards              show or change the writers of a sharded family live (add / remove)
  ganglion generate-config     write a commented homeserver.yaml and a signing key
  ganglion register-user       create an account through shared-secret registration
  ganglion celery -- ARGS      Celery's own command line (inspect, control, flower) on the config's broker

Every command takes ``--config PATH`` (repeatable; later files override earlier ones, as Synapse's
``--config-file``) and ``--debug``. A start-up failure is one line on stderr naming the config key and what to do
(ganglion/startup_checks.py), with a non-zero exit; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from config import ConfigError, HomeserverConfig, load_config
from config.generate import render_homeserver_yaml
from config.listeners import Listener
from config.pools import PoolPlan
from ganglion.cooperative import make_cooperative
from ganglion.startup_checks import StartupError, check_startup
from persistence.signing_key import generate_key_file

WORKER_CLASSES = ("gevent", "gthread")
DEFAULT_WORKER_CLASS = "gevent"
GEVENT_WORKER = "ganglion.http_worker.ClosingIdleGeventWorker"
"""gunicorn's gevent worker, closing idle keep-alive connections on a stop (ganglion/http_worker.py)."""

DEFAULT_CONFIG = "homeserver.yaml"
REQUEST_LINE_LIMIT = 8190
"""The longest request line (method, path and query) a web process reads: gunicorn's ceiling, as nginx's default
buffers allow, so that any token the server hands out fits in a request (``protocol/sync_tokens.py``)."""
KEEPALIVE_SECONDS = 75
"""How long a web process keeps an idle HTTP/1.1 connection open. Clients reuse pooled connections until their own
idle timeout (Node's fetch 4 s, aiohttp 15 s, an nginx upstream pool 60 s) and a request written as the server
closes fails outright, so the server must outwait them; gunicorn's default of 2 s broke matrix-js-sdk requests.
A stop closes the idle ones at once (ganglion/http_worker.py) and waits only for requests in progress."""


def _load(paths: list[str] | None) -> HomeserverConfig:
    config = load_config(paths or [DEFAULT_CONFIG])
    for warning in config.warnings:
        print(f"config warning: {warning}", file=sys.stderr)
    return config


def _check(config: HomeserverConfig, paths: list[str] | None, listeners: Sequence[Listener] = ()) -> None:
    """Fail fast, in one line, before migrating or serving (ganglion/startup_checks.py)."""
    config_dir = os.path.dirname(os.path.abspath((paths or [DEFAULT_CONFIG])[0]))
    check_startup(config, config_dir, listeners)


def _served_by_web(config: HomeserverConfig) -> tuple[Listener, ...]:
    return (*config.http_listeners, *config.metrics_listeners)


def _ensure_signing_key(config: HomeserverConfig) -> None:
    if not os.path.exists(config.signing_key_path):
        generate_key_file(config.signing_key_path)


def _migrate(config: HomeserverConfig) -> None:
    """Bring the schema up to date; one log line when it changed (Alembic's own lines are quiet by default)."""
    from persistence import migrate
    from persistence.database import Database
    from persistence.stores import Stores
    from tasks.appservices import start_new_appservices

    database = Database(config.database)
    try:
        before = migrate.current_revision(database)
        migrate.upgrade(database)
        after = migrate.current_revision(database)
        start_new_appservices(database, Stores(), config.appservices)
    finally:
        database.dispose()
    if before != after:
        logging.getLogger("ganglion").info("database schema upgraded from %s to %s", before or "empty", after)


def cmd_generate_config(args: argparse.Namespace) -> int:
    path = args.config_path
    if os.path.exists(path):
        print(f"{path} already exists; not overwriting it", file=sys.stderr)
        return 1
    data_dir = os.path.abspath(args.data_dir or os.path.dirname(os.path.abspath(path)))
    os.makedirs(data_dir, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(render_homeserver_yaml(args.server_name, data_dir, host=args.host, port=args.port))
    config = load_config([path])
    _ensure_signing_key(config)
    print(f"wrote {path} and {config.signing_key_path}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Bring the schema up to date, and create the signing key if there is none yet: run once before starting
    a deployment, so its processes never race to create the key."""
    config = _load(args.config)
    _check(config, args.config)
    _ensure_signing_key(config)
    _migrate(config)
    from persistence import migrate

    print(f"database is at schema revision {migrate.head_revision()}")
    return 0


def _gunicorn_options(config: HomeserverConfig, args: argparse.Namespace, *, workers: int) -> dict[str, object]:
    """gthread holds a thread per request; gevent a greenlet, so a worker holds ``--connections`` long-polls."""
    from ganglion.server import release_worker, tls_options

    binds = [address for listener in (*config.http_listeners, *config.metrics_listeners)
             for address in listener.bind]
    concurrency: dict[str, object] = (
        {"threads": args.threads} if args.worker_class == "gthread" else {"worker_connections": args.connections})
    return {
        "bind": binds or ["127.0.0.1:8008"],
        "workers": workers,
        "worker_class": GEVENT_WORKER if args.worker_class == "gevent" else args.worker_class,
        **concurrency,
        "timeout": 120,
        "keepalive": KEEPALIVE_SECONDS,
        # Not gunicorn's default of 4094: a request line may carry two tokens (/messages' ``from`` and ``to``).
        "limit_request_line": REQUEST_LINE_LIMIT,
        "graceful_timeout": 10,
        "accesslog": "-" if args.access_log else None,
        # Several servers may share a machine (tests, side-by-side runs): no shared control socket path.
        "control_socket_disable": True,
        "child_exit": _forget_worker_metrics,
        "worker_exit": release_worker,
        **tls_options(config),
    }


def _use_multiprocess_metrics(config: HomeserverConfig) -> None:
    """Before anything imports prometheus_client: gunicorn's workers write their metrics to one fresh directory
    (prometheus-client's multiprocess mode), so a scrape answered by any worker reports every worker."""
    if config.metrics_listeners and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ganglion-metrics-")


def _forget_worker_metrics(_server: object, worker: Any) -> None:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def cmd_run(args: argparse.Namespace) -> int:
    make_cooperative(args.worker_class)
    from ganglion.inline_beat import InlineBeat
    from ganglion.logs import configure_logging
    from ganglion.next_steps import next_steps
    from ganglion.server import GunicornServer
    from ganglion.wiring import build_monolith
    from tasks.background import SCHEDULE_SECONDS
    from web.app import create_app

    paths = args.config
    if not paths:
        if not os.path.exists(DEFAULT_CONFIG):
            args.config_path, args.data_dir = DEFAULT_CONFIG, None
            cmd_generate_config(args)
        paths = [DEFAULT_CONFIG]
    config = _load(paths)
    _check(config, paths, _served_by_web(config))
    configure_logging(config)
    _ensure_signing_key(config)
    _migrate(config)

    def app_factory() -> object:
        monolith = build_monolith(config)
        InlineBeat(monolith.deps.dispatcher, SCHEDULE_SECONDS).start()
        return create_app(config, monolith.deps)

    def announce(worker: Any) -> None:
        """gunicorn's ``post_worker_init``: the first worker has built the app, so the server answers now."""
        if worker.age == 1:  # not again when a worker is replaced
            print(next_steps(config, paths), flush=True)

    # One worker process: the monolith's doorbell, rate limits and inline tasks live in memory.
    options = {**_gunicorn_options(config, args, workers=1), "post_worker_init": announce}
    GunicornServer(app_factory, options).run()
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    make_cooperative(args.worker_class)
    config = _load(args.config)
    if not config.redis.enabled:
        raise ConfigError("redis.enabled", "the worker shape needs Redis; use `ganglion run` for the monolith")
    _use_multiprocess_metrics(config)
    from ganglion.logs import configure_logging
    from ganglion.server import GunicornServer
    from ganglion.wiring import build_web_worker
    from web.app import create_app

    _check(config, args.config, _served_by_web(config))
    configure_logging(config)
    _ensure_signing_key(config)
    _migrate(config)

    def app_factory() -> object:
        return create_app(config, build_web_worker(config))

    options = _gunicorn_options(config, args, workers=args.workers)
    GunicornServer(app_factory, options).run()
    return 0


def _for_instance(config: HomeserverConfig, name: str) -> HomeserverConfig:
    if config.workers.app is not None and config.workers.name not in (name, "main"):
        raise ConfigError("worker_name", f"is {config.workers.name!r} but the command names {name!r}")
    return dataclasses.replace(config, workers=dataclasses.replace(config.workers, name=name))


def cmd_worker(args: argparse.Namespace) -> int:
    from config.pools import pools_for_queues
    from ganglion.logs import configure_logging
    from ganglion.shards import live_queues_for_instance, named_in_shard_maps

    config = _for_instance(_load(args.config), args.name)
    if not config.routing.queues_for_instance(args.name) and not named_in_shard_maps(config, args.name):
        raise ConfigError(
            "", f"instance {args.name!r} consumes no queue: name it in stream_writers or an *_instances key, "
                "or add it with `ganglion shards add`"
        )
    if args.pool_kind is None:  # the supervisor checks for the pools it starts
        _check(config, args.config, config.metrics_listeners)
    configure_logging(config)
    if args.pool_kind is None:
        _migrate(config)
    # The shard maps in force (the config, or a live change: `ganglion shards add`) say what this instance consumes.
    plans = pools_for_queues(live_queues_for_instance(config, args.name), args.concurrency)
    if not plans:
        raise ConfigError("", f"instance {args.name!r} consumes no queue under the shard maps in force")
    if args.pool_kind is None and len(plans) > 1:
        return _supervise_pools(config, args, [plan.kind for plan in plans])
    plan = next((plan for plan in plans if args.pool_kind in (None, plan.kind)), None)
    if plan is None:
        raise ConfigError("", f"instance {args.name!r} has no {args.pool_kind} queues")
    if args.pool_kind is None:
        from ganglion.metrics import serve_instance_metrics

        serve_instance_metrics(config)
    return _run_pool(config, args.name, plan, args.loglevel)


def _supervise_pools(config: HomeserverConfig, args: argparse.Namespace, kinds: list[str]) -> int:
    """One child ``ganglion worker NAME --pool-kind KIND`` per pool, under one supervisor (config/pools.py) that
    serves the children's metrics (multiprocess mode) on the instance's metrics listener."""
    from ganglion.metrics import MULTIPROCESS_DIR_ENV, multiprocess_dir, serve_instance_metrics
    from ganglion.worker_processes import Supervisor

    metrics_dir = multiprocess_dir() if config.metrics_listeners else None
    env = {**os.environ, MULTIPROCESS_DIR_ENV: metrics_dir} if metrics_dir else None
    layered = [item for path in args.config or [DEFAULT_CONFIG] for item in ("--config", path)]
    commands = {
        f"{args.name}/{kind}": [sys.executable, "-m", "ganglion.cli", "worker", args.name, *layered,
                                "--pool-kind", kind, "--concurrency", str(args.concurrency),
                                "--loglevel", args.loglevel]
        for kind in kinds
    }
    return Supervisor(commands, env).run(started=lambda: serve_instance_metrics(config, metrics_dir))


def _run_pool(config: HomeserverConfig, name: str, plan: PoolPlan, loglevel: str) -> int:
    """One Celery worker process. The ordered pool first takes the instance's lease, and exits at once if it is
    ever lost: another copy may be consuming the same ordered queues by then."""
    from kombu import Queue

    from config.pools import ORDERED, POOL
    from ganglion.wiring import build_task_worker, instance_lease
    from persistence.leases import LeaseKeeper
    from tasks.metrics import install_task_metrics

    install_task_metrics()
    keeper = None
    if plan.kind == ORDERED:
        keeper = LeaseKeeper(instance_lease(config, f"worker:{name}"), on_lost=_exit_fenced).start()
        keeper.wait_acquired()
    try:
        celery, _context = build_task_worker(config, writes_streams=plan.kind == ORDERED)
        for queue in plan.queues:  # a queue a live shard change added is not in the config's declared queues
            if queue not in celery.amqp.queues:
                celery.amqp.queues.add(Queue(queue))
        celery.worker_main([
            "worker", "--queues", ",".join(plan.queues), "--hostname", plan.hostname(name), "--pool", POOL,
            "--concurrency", str(plan.concurrency), "--loglevel", loglevel, "--without-gossip",
            "--without-mingle",
        ])
    finally:
        if keeper is not None:
            keeper.stop()
    return 0


def _exit_fenced(token: int) -> None:
    print(f"lost the instance lease (token {token}): stopping before another copy consumes beside us",
          file=sys.stderr)
    os._exit(75)


def cmd_beat(args: argparse.Namespace) -> int:
    from ganglion.beat import run_beat
    from ganglion.logs import configure_logging
    from ganglion.wiring import instance_lease
    from persistence.leases import LeaseKeeper
    from tasks.app import create_celery
    from tasks.background import beat_schedule, sign_beat_messages

    config = _load(args.config)
    if not config.redis.enabled:
        raise ConfigError("redis.enabled", "beat sends to Celery over Redis; the monolith runs its jobs itself")
    _check(config, args.config)
    configure_logging(config)
    celery = create_celery(config)
    celery.conf.beat_schedule = beat_schedule(config.routing)
    sign_beat_messages(config.workers.replication_secret)
    run_beat(celery, LeaseKeeper(instance_lease(config, "beat")), args.loglevel)
    return 0


def cmd_routes(args: argparse.Namespace) -> int:
    """The routing table of the config (which instance consumes which queue), with ``--nginx`` a reverse-proxy
    config for its web processes (config/nginx.py), with ``--metrics`` a Prometheus scrape config."""
    from config.nginx import NginxSite, media_repository_binds, render_nginx, web_server_addresses

    shared = args.config or [DEFAULT_CONFIG]
    config = _load(shared)
    if args.metrics:
        sys.stdout.write(_prometheus_scrape_config(shared, args.worker))
        return 0
    if not args.nginx:
        routing = config.routing
        for instance in routing.consuming_instances():
            print(f"{instance}: {' '.join(routing.queues_for_instance(instance))}")
        return 0
    web_configs = [_load([*shared, path]) for path in args.web] or [config]
    binds = [address for web in web_configs for listener in web.http_listeners
             if listener.resources & {"client", "federation"} or not listener.resources
             for address in listener.bind]
    if not binds:
        raise ConfigError("listeners", "no http listener with the client or federation resource to route to")
    media_binds = media_repository_binds(web_configs)
    if not config.workers.serves_media_repo and not media_binds:
        raise ConfigError("enable_media_repo", "is false: pass the synapse.app.media_repository worker's file "
                                               "with --web so media has somewhere to go")
    site = NginxSite(server_name=config.server_name, listen=args.listen, web_servers=web_server_addresses(binds),
                     initial_sync_servers=args.initial_sync_servers, max_body_bytes=config.max_request_size,
                     media_servers=web_server_addresses(media_binds), max_upload_bytes=config.media.max_upload_size)
    text = render_nginx(site)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


def _prometheus_scrape_config(shared: list[str], worker_files: list[str]) -> str:
    """A Prometheus ``scrape_configs`` entry with each process's metrics listener, read from the same files the
    processes read, so the ports are written once (in each process's config) and nowhere else."""
    import yaml

    targets = []
    for config in [_load([*shared, path]) for path in worker_files] or [_load(shared)]:
        for listener in config.metrics_listeners:
            for address in listener.bind:
                targets.append({"targets": [address], "labels": {"instance_name": config.workers.name}})
    if not targets:
        raise ConfigError("enable_metrics", "no process has a metrics listener (a `type: metrics` listener, with "
                                            "enable_metrics: true)")
    return yaml.safe_dump({"scrape_configs": [{"job_name": "ganglion", "static_configs": targets}]},
                          sort_keys=False)


def cmd_shards(args: argparse.Namespace) -> int:
    from ganglion.shards import change_shards, show_shards

    config = _load(args.config)
    _check(config, args.config)
    if args.action == "show":
        print(show_shards(config, args.family))
        return 0
    if not args.family or not args.instance:
        raise ConfigError("", f"`ganglion shards {args.action}` needs a family and an instance name")
    return change_shards(config, args.action, args.family, args.instance, wait_seconds=args.wait)


def cmd_celery(args: argparse.Namespace) -> int:
    """Celery's own command line (``inspect``, ``control``, ``flower``...) on the config's broker: its Redis host,
    port, database and key prefix, so no command repeats them by hand and Flower sees prefixed queues too."""
    from click.exceptions import ClickException

    from tasks.app import create_celery

    config = _load(args.config)
    if not config.redis.enabled:
        raise ConfigError("redis.enabled", "Celery runs only in the worker shape; the monolith runs tasks inline")
    arguments = args.celery_args[1:] if args.celery_args[:1] == ["--"] else args.celery_args
    try:
        create_celery(config).start(argv=arguments)
    except ClickException as error:  # a usage error of Celery's command line: its own message, not a traceback
        error.show()
        return error.exit_code
    return 0


def cmd_register_user(args: argparse.Namespace) -> int:
    from ganglion.register_user import register_user_interactively

    config = _load(args.config)
    return register_user_interactively(config, args)


def _serving_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--worker-class", choices=WORKER_CLASSES, default=DEFAULT_WORKER_CLASS,
                         help="gevent (default): a greenlet per request; gthread: a thread per request")
    command.add_argument("--connections", type=int, default=10_000, help="gevent: requests one worker holds at once")
    command.add_argument("--threads", type=int, default=32, help="gthread: requests one worker serves at once")
    command.add_argument("--access-log", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ganglion", description="A Matrix homeserver that scales out on Celery.")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_config(command: argparse.ArgumentParser) -> argparse.ArgumentParser:
        command.add_argument("--config", "-c", action="append", metavar="PATH",
                             help="config file; repeat to layer a worker file over the shared one")
        _debug_option(command)
        return command

    run = with_config(commands.add_parser("run", help="start the monolith"))
    run.add_argument("--server-name", default="localhost", help="used only when generating a first config")
    run.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    run.add_argument("--port", type=int, default=8008, help=argparse.SUPPRESS)
    _serving_options(run)
    run.set_defaults(func=cmd_run)

    web = with_config(commands.add_parser("web", help="start gunicorn web workers (worker shape)"))
    web.add_argument("--workers", type=int, default=2)
    _serving_options(web)
    web.set_defaults(func=cmd_web)

    worker = with_config(commands.add_parser("worker", help="start the Celery worker of one instance"))
    worker.add_argument("name", help="the instance name (worker_name / a name in stream_writers...)")
    worker.add_argument("--concurrency", type=int, default=8,
                        help="tasks at once on the outbound/background queues; ordered queues always take one")
    worker.add_argument("--pool-kind", choices=("ordered", "concurrent"), help=argparse.SUPPRESS)
    worker.add_argument("--loglevel", default="INFO")
    worker.set_defaults(func=cmd_worker)

    beat = with_config(commands.add_parser("beat", help="start Celery beat (periodic jobs)"))
    beat.add_argument("--loglevel", default="INFO")
    beat.set_defaults(func=cmd_beat)

    routes = with_config(commands.add_parser("routes", help="show queue routing, or write an nginx config"))
    routes.add_argument("--nginx", action="store_true", help="write an nginx config for the web processes")
    routes.add_argument("--web", action="append", default=[], metavar="WORKER_YAML",
                        help="a web process's worker file (its worker_listeners); repeat for each")
    routes.add_argument("--metrics", action="store_true",
                        help="write a Prometheus scrape config with every process's metrics listener")
    routes.add_argument("--worker", action="append", default=[], metavar="WORKER_YAML",
                        help="--metrics: a process's worker file (any kind); repeat for each")
    routes.add_argument("--listen", default="8008", help="what nginx listens on (nginx `listen` syntax)")
    routes.add_argument("--initial-sync-servers", type=int, default=1,
                        help="how many web processes (the last ones) take initial syncs apart from the others")
    routes.add_argument("--output", "-o", help="write to this file instead of stdout")
    routes.set_defaults(func=cmd_routes)

    migrate_cmd = with_config(commands.add_parser("migrate", help="apply database migrations"))
    migrate_cmd.set_defaults(func=cmd_migrate)

    shards = with_config(commands.add_parser("shards", help="show or change a sharded family's instances live"))
    shards.add_argument("action", choices=["show", "add", "remove"])
    shards.add_argument("family", nargs="?", help="events, typing, ..., federation, push")
    shards.add_argument("instance", nargs="?", help="the instance to add or remove")
    shards.add_argument("--wait", type=float, default=60.0,
                        help="seconds to wait for the old owners to drain (their fences)")
    shards.set_defaults(func=cmd_shards)

    generate = commands.add_parser("generate-config", help="write homeserver.yaml and a signing key")
    generate.add_argument("--server-name", required=True)
    generate.add_argument("--config-path", default=DEFAULT_CONFIG)
    generate.add_argument("--data-dir", help="where the database and key go (default: next to the config)")
    generate.add_argument("--host", default="127.0.0.1")
    generate.add_argument("--port", type=int, default=8008)
    _debug_option(generate)
    generate.set_defaults(func=cmd_generate_config)

    celery = with_config(commands.add_parser(
        "celery", help="Celery's command line on the config's broker (inspect, control, flower...)"))
    celery.add_argument("celery_args", nargs=argparse.REMAINDER, metavar="-- CELERY_ARGS",
                        help="e.g. `-- inspect active_queues` or `-- flower --address=127.0.0.1 --port=5555`")
    celery.set_defaults(func=cmd_celery)

    register = with_config(commands.add_parser("register-user", help="create a user via shared-secret registration"))
    register.add_argument("--user", "-u", help="the new account's localpart (alice for @alice:server)")
    register.add_argument("--password", "-p", help="the password (visible to other users of this machine in ps)")
    register.add_argument("--password-stdin", action="store_true",
                          help="read the password from the first line of stdin (also done when stdin is a pipe)")
    admin = register.add_mutually_exclusive_group()
    admin.add_argument("--admin", "-a", action="store_true", default=None, help="make the account a server admin")
    admin.add_argument("--no-admin", dest="admin", action="store_false",
                       help="an ordinary account (the default without a terminal)")
    register.add_argument("--user-type", choices=["support", "bot"])
    register.add_argument("server_url", nargs="?", help="default: the first client listener")
    register.set_defaults(func=cmd_register_user)
    return parser


def _debug_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--debug", action="store_true", help="show the traceback of a failure")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as error:
        if args.debug:
            raise
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    except StartupError as error:
        if args.debug:
            raise
        print(f"cannot start: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
