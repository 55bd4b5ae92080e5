"""A homeserver under test, in either shape, spoken to over HTTP through Flask's test client.

``monolith``: SQLite and inline tasks, everything in this process. ``workers``: PostgreSQL and Redis, with the
web tier here and every task run by a real ``ganglion worker`` Celery process started once per test session.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from config import HomeserverConfig
from persistence.signing_key import generate_key_file
from web.deps import Deps

SERVER_NAME = "test.local"
SIGNING_KEY_PATH = Path(tempfile.gettempdir()) / "ganglion-test.signing.key"
MEDIA_STORE_PATH = Path(tempfile.gettempdir()) / f"ganglion-test-media-{os.getpid()}"
"""One media store per test run, shared by the web tier here and the session's Celery worker (as a deployment's
processes share one)."""


def ensure_signing_key() -> str:
    """One ed25519 key file for every test server (the Celery worker process reads the same file)."""
    with contextlib.suppress(FileExistsError):
        generate_key_file(str(SIGNING_KEY_PATH))
    return str(SIGNING_KEY_PATH)


PASSWORD = "correct horse battery staple"
GENEROUS = {"per_second": 10000, "burst_count": 10000}


def base_config_data() -> dict[str, Any]:
    """Settings every test server shares; rate limits are out of the way unless a test sets them."""
    return {
        "server_name": SERVER_NAME,
        "public_baseurl": "https://matrix.test.local/",
        "enable_registration": True,
        "enable_registration_without_verification": True,
        "registration_shared_secret": "test-shared-secret",
        "worker_replication_secret": "test-replication-secret",
        "signing_key_path": ensure_signing_key(),
        "bcrypt_rounds": 4,
        "media_store_path": str(MEDIA_STORE_PATH),
        # Previews may reach this machine's 127.0.0.1 only (the tests' own web server), nothing else local.
        "url_preview_enabled": True,
        "url_preview_ip_range_blacklist": ["127.0.0.0/8", "10.0.0.0/8", "169.254.0.0/16", "::1/128"],
        "url_preview_ip_range_whitelist": ["127.0.0.1/32"],
        # Push gateways and other outbound requests may reach the tests' own servers on 127.0.0.1.
        "ip_range_whitelist": ["127.0.0.1/32"],
        "rc_registration": GENEROUS,
        "rc_login": {"address": GENEROUS, "account": GENEROUS, "failed_attempts": GENEROUS},
        "rc_profile": GENEROUS,
        "rc_registration_token_validity": GENEROUS,
        "rc_room_creation": GENEROUS,
        "rc_message": GENEROUS,
        "rc_presence": {"per_user": GENEROUS},
    }


@dataclass
class HomeserverUnderTest:
    shape: str
    config: HomeserverConfig
    deps: Deps
    app: Flask
    clock: Any
    client: FlaskClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = self.app.test_client()

    # --- HTTP -------------------------------------------------------------------------------------------
    def request(self, method: str, path: str, *, json: Any = None, token: str | None = None,
                data: bytes | str | None = None, headers: dict[str, str] | None = None) -> TestResponse:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        if data is not None:
            return self.client.open(path, method=method, data=data, headers=all_headers,
                                    content_type="application/json")
        return self.client.open(path, method=method, json=json, headers=all_headers)

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("DELETE", path, **kwargs)

    # --- conversations tests keep having ------------------------------------------------------------------
    def register(self, username: str, password: str = PASSWORD, **extra: Any) -> dict[str, Any]:
        """Register through the dummy UIA flow; returns the /register response body."""
        body = {"username": username, "password": password, "auth": {"type": "m.login.dummy"}, **extra}
        response = self.post("/_matrix/client/v3/register", json=body)
        assert response.status_code == 200, response.json
        return response.json  # type: ignore[return-value]

    def login(self, username: str, password: str = PASSWORD, **extra: Any) -> dict[str, Any]:
        body = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": username},
                "password": password, **extra}
        response = self.post("/_matrix/client/v3/login", json=body)
        assert response.status_code == 200, response.json
        return response.json  # type: ignore[return-value]

    def password_auth(self, user_id: str, password: str = PASSWORD, session: str | None = None) -> dict[str, Any]:
        auth: dict[str, Any] = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user_id},
                                "password": password}
        if session:
            auth["session"] = session
        return auth

    def eventually(self, probe: Callable[[], Any], timeout: float = 15.0) -> Any:
        """Wait for work done by a task: immediate in the monolith, a queue hop away in the worker shape."""
        deadline = time.monotonic() + timeout
        while True:
            result = probe()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not reached within {timeout}s")
            time.sleep(0.05)

    def run_beat_job(self, name: str) -> Any:
        """Run one of beat's periodic jobs now, by this server's (fake) clock. Its follow-up tasks go where the
        dispatcher sends them: inline in the monolith, to the Celery worker in the worker shape."""
        from tasks.context import TaskContext
        from tasks.registry import catalogue

        deps = self.deps
        context = TaskContext(self.config, deps.database, deps.stores, deps.doorbell, self.clock, deps.dispatcher,
                              deps.signing_key)
        return catalogue()[name].body(context)
