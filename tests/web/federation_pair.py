"""A second, real Ganglion server for federation tests: ``remote.test``, a monolith on its own SQLite file and
media store, served over HTTP on loopback, and the server under test served the same way, each mapped to the other
with ``federation_test_hosts``. Requests between them are signed, and verified with keys each fetches from the
other, exactly as between two deployments."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from config import parse_config
from tests.clock import FakeClock
from tests.conftest import HomeserverFactory
from tests.homeserver import SERVER_NAME, HomeserverUnderTest, base_config_data

REMOTE = "remote.test"
LOOPBACK = {"ip_range_whitelist": ["127.0.0.0/8"]}


class SwitchableApp:
    """A WSGI app whose target is set after the socket is bound (each server's config needs the other's port)."""

    def __init__(self) -> None:
        self.target: Callable[..., Any] | None = None
        self.paths: list[str] = []
        """The path of every request received, in order."""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.target is not None
        self.paths.append(str(environ.get("PATH_INFO", "")))
        return self.target(environ, start_response)


@contextmanager
def listening() -> Iterator[tuple[BaseWSGIServer, SwitchableApp]]:
    app = SwitchableApp()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, app
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Pair:
    local: HomeserverUnderTest
    remote: HomeserverUnderTest
    remote_app: SwitchableApp
    """What serves ``remote.test``: a test may count its requests or put a different app in front."""


def build_remote(tmp_path: Path, sqlite_template: Path, hosts: dict[str, str], **overrides: Any) -> HomeserverUnderTest:
    from ganglion.wiring import build_monolith
    from web.app import create_app

    sqlite_path = tmp_path / "remote.db"
    shutil.copy(sqlite_template, sqlite_path)
    media = tmp_path / "remote-media"
    data = {**base_config_data(), "server_name": REMOTE, "public_baseurl": "https://remote.test/",
            "database": {"name": "sqlite3", "args": {"database": str(sqlite_path)}},
            "media_store_path": str(media), "federation_test_hosts": hosts, **LOOPBACK, **overrides}
    config = parse_config(data)
    clock = FakeClock()
    deps = build_monolith(config, clock).deps
    return HomeserverUnderTest("monolith", config, deps, create_app(config, deps), clock)


@contextmanager
def federating_pair(make_homeserver: HomeserverFactory, tmp_path: Path, sqlite_template: Path,
                    extra_hosts: dict[str, str] | None = None, remote_overrides: dict[str, Any] | None = None,
                    **local_overrides: Any) -> Iterator[Pair]:
    """``extra_hosts``: more server names the server under test maps (say, to a closed port: unreachable);
    ``remote_overrides``: config keys of ``remote.test``."""
    with listening() as (local_server, local_app), listening() as (remote_server, remote_app):
        local_url = f"http://127.0.0.1:{local_server.server_port}"
        remote_url = f"http://127.0.0.1:{remote_server.server_port}"
        local = make_homeserver(federation_test_hosts={REMOTE: remote_url, **(extra_hosts or {})}, **LOOPBACK,
                                **local_overrides)
        remote = build_remote(tmp_path, sqlite_template, {SERVER_NAME: local_url}, **(remote_overrides or {}))
        local_app.target, remote_app.target = local.app, remote.app
        try:
            yield Pair(local, remote, remote_app)
        finally:
            remote.deps.federation.close()
            remote.deps.database.dispose()
