"""What ``ganglion run`` prints once the monolith answers: where it is, where its files are, and how to make the
first account, so a newcomer's first run ends with the next command to type rather than a scroll of logs."""

from __future__ import annotations

import os
import shlex
import sys

from sqlalchemy.engine import make_url

from config import HomeserverConfig


def own_command() -> str:
    """How to run this same ``ganglion`` from any directory: its absolute path, or ``python -m`` when started so."""
    program = sys.argv[0]
    if os.path.basename(program) == "ganglion":
        return shlex.quote(os.path.abspath(program)) if os.sep in program else "ganglion"
    return f"{shlex.quote(sys.executable)} -m ganglion.cli"


def client_url(config: HomeserverConfig) -> str:
    for listener in config.http_listeners:
        if listener.port and ("client" in listener.resources or not listener.resources):
            host = listener.bind_addresses[0] if listener.bind_addresses else "127.0.0.1"
            host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
            scheme = "https" if listener.tls else "http"
            return f"{scheme}://{'[' + host + ']' if ':' in host else host}:{listener.port}"
    return config.public_baseurl.rstrip("/")


def database_description(config: HomeserverConfig) -> str:
    url = make_url(config.database.url)
    if config.database.is_sqlite:
        return f"{os.path.abspath(url.database)} (SQLite)" if url.database else "in memory (SQLite)"
    return f"PostgreSQL database {url.database!r} at {url.host or 'localhost'}:{url.port or 5432}"


def next_steps(config: HomeserverConfig, config_paths: list[str]) -> str:
    url = client_url(config)
    layered = " ".join(f"--config {shlex.quote(os.path.abspath(path))}" for path in config_paths)
    register = (f"echo 'choose-a-password' | {own_command()} register-user {layered} -u admin --admin "
                f"--password-stdin {url}")
    return "\n".join((
        "",
        f"Ganglion is running at {url} (server name {config.server_name}); Ctrl-C stops it.",
        f"  config:     {', '.join(os.path.abspath(path) for path in config_paths)}",
        f"  database:   {database_description(config)}",
        "  first user: in another terminal (pick your own name and password; leave out --admin for a non-admin):",
        f"    {register}",
        *_sign_up(config),
        "",
    ))


def _sign_up(config: HomeserverConfig) -> tuple[str, ...]:
    if config.registration.enable_registration:
        return ("  sign-up:    open (`enable_registration: true`): clients can create accounts",)
    return ("  sign-up:    closed; `enable_registration: true` in the config (and a restart) opens it to anyone who",
            "              can reach the server; the config's comments show the settings for a private test server.")
