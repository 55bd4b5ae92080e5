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


def register_user_interactively(config: HomeserverConfig, args: argparse.Namespace) -> int:
    secret = config.registration.registration_shared_secret
    if not secret:
        print("registration_shared_secret is not set in the config", file=sys.stderr)
        return 1
    user = args.user or input("New user localpart: ").strip()
    password = args.password or getpass.getpass("Password: ")
    if not args.password and password != getpass.getpass("Confirm password: "):
        print("Passwords do not match", file=sys.stderr)
        return 1
    admin = args.admin if args.admin is not None else input("Make admin [no]: ").strip().lower() in ("y", "yes")
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
