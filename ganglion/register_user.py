"""``ganglion register-user``: Synapse's ``register_new_matrix_user`` against the shared-secret admin API."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import urllib.error
import urllib.request
from typing import Any

from config import HomeserverConfig
from web.admin.register import expected_mac


def _request(url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def _default_url(config: HomeserverConfig) -> str:
    for listener in config.http_listeners:
        if "client" in listener.resources and listener.port:
            host = listener.bind_addresses[0]
            host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
            return f"http://{'[' + host + ']' if ':' in host else host}:{listener.port}"
    return "http://127.0.0.1:8008"


class MissingInput(Exception):
    """Without a terminal to ask on, a value the flags did not give; the message names the flag."""


def _ask(prompt: str, flag: str) -> str:
    """A prompt on a terminal; without one (a script, CI, a pipe) the flag is the only way to give the value."""
    if not sys.stdin.isatty():
        raise MissingInput(f"missing {flag} (there is no terminal to ask on)")
    try:
        return input(prompt).strip()
    except EOFError:
        raise MissingInput(f"missing {flag}") from None


def _password(args: argparse.Namespace) -> str:
    """From ``--password``, else from stdin when it is not a terminal (``--password-stdin`` or a pipe), else
    asked twice on the terminal."""
    if args.password:
        return str(args.password)
    if args.password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise MissingInput("missing password: give --password (-p), or one line on stdin with --password-stdin")
        return password
    try:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Confirm password: "):
            raise MissingInput("passwords do not match")
    except EOFError:
        raise MissingInput("missing --password (-p)") from None
    if not password:
        raise MissingInput("missing password: an empty one is not allowed")
    return password


def _admin(args: argparse.Namespace) -> bool:
    if args.admin is not None:
        return bool(args.admin)
    if not sys.stdin.isatty() or args.password_stdin:
        return False  # as Synapse's register_new_matrix_user without --admin: an ordinary user
    return _ask("Make admin [no]: ", "--admin or --no-admin").lower() in ("y", "yes")


def register_user_interactively(config: HomeserverConfig, args: argparse.Namespace) -> int:
    secret = config.registration.registration_shared_secret
    if not secret:
        print("registration_shared_secret is not set in the config: set it (any long random string) and "
              "restart the server", file=sys.stderr)
        return 1
    try:
        user = args.user or _ask("New user localpart: ", "--user (-u)")
        if not user:
            raise MissingInput("missing --user (-u)")
        password = _password(args)
        admin = _admin(args)
    except MissingInput as missing:
        print(f"register-user: {missing}", file=sys.stderr)
        return 2
    base = (args.server_url or _default_url(config)).rstrip("/")
    url = f"{base}/_synapse/admin/v1/register"
    try:
        nonce = _request(url)["nonce"]
        mac = expected_mac(secret, nonce, user, password, admin, args.user_type)
        body = {"nonce": nonce, "username": user, "password": password, "admin": admin, "mac": mac}
        if args.user_type:
            body["user_type"] = args.user_type
        result = _request(url, body)
    except urllib.error.HTTPError as error:
        print(f"registration failed: {error.code} {error.read().decode(errors='replace')}", file=sys.stderr)
        return 1
    except urllib.error.URLError as error:
        print(f"cannot reach {base}: {error.reason}", file=sys.stderr)
        return 1
    print(f"registered {result['user_id']}")
    return 0
