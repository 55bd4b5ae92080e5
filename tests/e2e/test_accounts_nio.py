"""Accounts end to end: matrix-nio against a real ``ganglion run`` (monolith), a real worker-shape deployment
(``ganglion web`` with two gunicorn workers + ``ganglion worker main`` on PostgreSQL and Redis) and the full
Procfile deployment (two web processes behind a balancer, a worker per stream writer and queue family).

The first two are started for this module, the Procfile deployment once for the session; every test registers its
own users under random names.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    DevicesResponse,
    LoginError,
    LoginResponse,
    LogoutResponse,
    ProfileGetDisplayNameResponse,
    ProfileGetResponse,
    ProfileSetDisplayNameResponse,
    RegisterResponse,
    WhoamiError,
    WhoamiResponse,
)

from config import load_config
from config.routing import shard_for
from tests.e2e.servers import E2E_SHAPES, SERVER_NAME, RunningServer, fresh_localpart, query, serving

pytestmark = pytest.mark.e2e

PASSWORD = "e2e correct horse battery staple"
T = TypeVar("T")


@pytest.fixture(scope="module", params=E2E_SHAPES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with serving(request, tmp_path_factory, "accounts") as running:
        yield running


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, timeout=60))  # type: ignore[arg-type]


def nio_client(server: RunningServer, user: str = "") -> AsyncClient:
    # Bounded retries: a server that does not answer fails the test instead of hanging it.
    config = AsyncClientConfig(max_timeouts=2, max_limit_exceeded=0, request_timeout=20, encryption_enabled=False,
                               store_sync_tokens=False)
    return AsyncClient(server.base_url, user, config=config)


async def register(server: RunningServer, localpart: str, device_name: str) -> tuple[AsyncClient, RegisterResponse]:
    client = nio_client(server)
    response = await client.register(localpart, PASSWORD, device_name=device_name)
    assert isinstance(response, RegisterResponse), f"{response}\n{server.logs()}"
    return client, response


async def login(server: RunningServer, user_id: str, device_name: str,
                password: str = PASSWORD) -> tuple[AsyncClient, LoginResponse | LoginError]:
    """Password login on a fresh client, so the server assigns a new device."""
    client = nio_client(server, user_id)
    return client, await client.login(password, device_name=device_name)


async def whoami_with(server: RunningServer, user_id: str, device_id: str,
                      access_token: str) -> WhoamiResponse | WhoamiError:
    """``whoami`` over a fresh connection (with two gunicorn workers, successive calls can reach either)."""
    client = nio_client(server, user_id)
    client.restore_login(user_id, device_id, access_token)
    try:
        return await client.whoami()
    finally:
        await client.close()


async def closing(*clients: AsyncClient) -> None:
    for client in clients:
        await client.close()


def poll(probe: Callable[[], T], timeout: float = 15.0, interval: float = 0.1) -> T:
    """Wait (bounded) for something a task does: at once in the monolith, a queue hop away with workers."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout}s; last result {result!r}")
        time.sleep(interval)


def device_lists_writer(server: RunningServer, user_id: str) -> str:
    """The instance that writes ``user_id``'s device list changes: "main" unless the config names device_lists
    writers, as the Procfile deployment's does."""
    routing = load_config([str(server.config_path)]).routing
    return shard_for(routing.instances("device_lists"), user_id)


def test_register_returns_a_logged_in_session_that_whoami_recognises(server: RunningServer) -> None:
    async def conversation() -> None:
        localpart = fresh_localpart()
        client, registered = await register(server, localpart, "phone")
        try:
            assert registered.user_id == f"@{localpart}:{SERVER_NAME}"
            assert registered.device_id
            assert registered.access_token
            whoami = await client.whoami()
            assert isinstance(whoami, WhoamiResponse), whoami
            assert (whoami.user_id, whoami.device_id, whoami.is_guest) == (
                registered.user_id, registered.device_id, False)
        finally:
            await closing(client)

    run(conversation())


def test_registering_a_taken_username_is_refused_with_m_user_in_use(server: RunningServer) -> None:
    async def conversation() -> None:
        localpart = fresh_localpart()
        first, _ = await register(server, localpart, "phone")
        second = nio_client(server)
        try:
            again = await second.register(localpart, PASSWORD)
            assert not isinstance(again, RegisterResponse)
            assert again.status_code == "M_USER_IN_USE", again
        finally:
            await closing(first, second)

    run(conversation())


def test_password_login_opens_a_new_device_that_whoami_names(server: RunningServer) -> None:
    async def conversation() -> None:
        phone, registered = await register(server, fresh_localpart(), "phone")
        laptop, logged_in = await login(server, registered.user_id, "laptop")
        try:
            assert isinstance(logged_in, LoginResponse), logged_in
            assert logged_in.user_id == registered.user_id
            assert logged_in.device_id and logged_in.device_id != registered.device_id
            assert logged_in.access_token != registered.access_token
            whoami = await laptop.whoami()
            assert isinstance(whoami, WhoamiResponse), whoami
            assert (whoami.user_id, whoami.device_id) == (registered.user_id, logged_in.device_id)
        finally:
            await closing(phone, laptop)

    run(conversation())


def test_login_with_a_wrong_password_is_forbidden(server: RunningServer) -> None:
    async def conversation() -> None:
        phone, registered = await register(server, fresh_localpart(), "phone")
        intruder, refused = await login(server, registered.user_id, "intruder", password="not the password")
        try:
            assert isinstance(refused, LoginError), refused
            assert refused.status_code == "M_FORBIDDEN"
        finally:
            await closing(phone, intruder)

    run(conversation())


def test_display_name_set_with_nio_reads_back_from_another_client(server: RunningServer) -> None:
    async def conversation() -> None:
        alice, registered = await register(server, fresh_localpart("alice"), "phone")
        bob, _ = await register(server, fresh_localpart("bob"), "phone")
        try:
            set_name = await alice.set_displayname("Alice Liddell ✨")
            assert isinstance(set_name, ProfileSetDisplayNameResponse), set_name
            name = await bob.get_displayname(registered.user_id)
            assert isinstance(name, ProfileGetDisplayNameResponse), name
            assert name.displayname == "Alice Liddell ✨"
            profile = await bob.get_profile(registered.user_id)
            assert isinstance(profile, ProfileGetResponse), profile
            assert profile.displayname == "Alice Liddell ✨"
            assert profile.avatar_url is None
        finally:
            await closing(alice, bob)

    run(conversation())


def test_display_name_reaches_the_user_directory_through_its_task(server: RunningServer) -> None:
    """The user directory is written only by the ``user_directory`` queue's task (a Celery worker with workers)."""

    async def conversation() -> str:
        alice, registered = await register(server, fresh_localpart("alice"), "phone")
        try:
            assert isinstance(await alice.set_displayname("Directory Alice"), ProfileSetDisplayNameResponse)
        finally:
            await closing(alice)
        return registered.user_id

    user_id = run(conversation())
    rows = poll(lambda: query(server, "SELECT display_name FROM user_directory WHERE user_id = :user_id "
                                      "AND display_name = 'Directory Alice'", user_id=user_id))
    assert rows == [("Directory Alice",)]


def test_devices_lists_both_devices_with_their_names(server: RunningServer) -> None:
    async def conversation() -> None:
        phone, registered = await register(server, fresh_localpart(), "phone")
        laptop, logged_in = await login(server, registered.user_id, "laptop")
        try:
            assert isinstance(logged_in, LoginResponse), logged_in
            for client in (phone, laptop):
                devices = await client.devices()
                assert isinstance(devices, DevicesResponse), devices
                assert {(device.id, device.display_name) for device in devices.devices} == {
                    (registered.device_id, "phone"), (logged_in.device_id, "laptop")}
        finally:
            await closing(phone, laptop)

    run(conversation())


def test_logout_rejects_the_old_token_everywhere_and_keeps_the_other_device(server: RunningServer) -> None:
    async def conversation() -> None:
        phone, registered = await register(server, fresh_localpart(), "phone")
        laptop, logged_in = await login(server, registered.user_id, "laptop")
        assert isinstance(logged_in, LoginResponse), logged_in
        old_token = logged_in.access_token
        try:
            # Warm the token caches: with two web workers, fresh connections spread over both processes.
            for _ in range(6):
                accepted = await whoami_with(server, registered.user_id, logged_in.device_id, old_token)
                assert isinstance(accepted, WhoamiResponse), accepted
                assert accepted.device_id == logged_in.device_id

            logged_out = await laptop.logout()
            assert isinstance(logged_out, LogoutResponse), logged_out

            # Revocation must reach every process's cache, not only the one that served the logout.
            for _ in range(6):
                rejected = await whoami_with(server, registered.user_id, logged_in.device_id, old_token)
                assert isinstance(rejected, WhoamiError), rejected
                assert rejected.status_code == "M_UNKNOWN_TOKEN"

            still_there = await phone.whoami()
            assert isinstance(still_there, WhoamiResponse), still_there
            assert still_there.device_id == registered.device_id
            devices = await phone.devices()
            assert isinstance(devices, DevicesResponse), devices
            assert [device.id for device in devices.devices] == [registered.device_id]
        finally:
            await closing(phone, laptop)

    run(conversation())


def test_register_user_command_creates_a_user_who_can_log_in(server: RunningServer) -> None:
    localpart = fresh_localpart("cli")
    user_id = f"@{localpart}:{SERVER_NAME}"
    result = server.run_cli("register-user", "--config", str(server.config_path), "-u", localpart, "-p", PASSWORD,
                            "--no-admin", server.base_url)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{server.logs()}"
    assert f"registered {user_id}" in result.stdout

    async def conversation() -> None:
        client, logged_in = await login(server, user_id, "cli device")
        try:
            assert isinstance(logged_in, LoginResponse), logged_in
            assert logged_in.user_id == user_id
            whoami = await client.whoami()
            assert isinstance(whoami, WhoamiResponse), whoami
            assert (whoami.user_id, whoami.device_id) == (user_id, logged_in.device_id)
        finally:
            await closing(client)

    run(conversation())
    assert query(server, "SELECT admin FROM users WHERE user_id = :user_id", user_id=user_id) == [(False,)]


def test_login_appends_the_new_device_to_the_device_lists_stream(server: RunningServer) -> None:
    """Web workers never write stream tables: with workers, this row can only come from the Celery worker."""

    async def conversation() -> tuple[str, str, str]:
        phone, registered = await register(server, fresh_localpart(), "phone")
        laptop, logged_in = await login(server, registered.user_id, "laptop")
        await closing(phone, laptop)
        assert isinstance(logged_in, LoginResponse), logged_in
        return registered.user_id, registered.device_id, logged_in.device_id

    user_id, phone_device, laptop_device = run(conversation())
    rows = poll(lambda: query(
        server,
        "SELECT device_id, instance_name FROM device_lists_stream WHERE user_id = :user_id AND device_id = :device_id",
        user_id=user_id, device_id=laptop_device,
    ))
    assert rows == [(laptop_device, device_lists_writer(server, user_id))]
    stream = query(server, "SELECT device_id FROM device_lists_stream WHERE user_id = :user_id ORDER BY stream_id",
                   user_id=user_id)
    assert [row[0] for row in stream] == [phone_device, laptop_device]
    # The outbox rows that carried the change were consumed in the same transaction.
    assert poll(lambda: query(server, "SELECT count(*) FROM outbox WHERE family = 'device_lists' "
                                      "AND shard_key = :user_id", user_id=user_id) == [(0,)])


def test_worker_shape_runs_separate_processes(server: RunningServer) -> None:
    """Guard against the module silently testing the monolith twice (or thrice)."""
    if server.shape == "monolith":
        assert [process.name for process in server.processes] == ["run"]
        assert server.config()["database"]["name"] == "sqlite3"
    else:
        expected = ["honcho"] if server.shape == "procfile" else ["worker-main", "web"]
        assert [process.name for process in server.processes] == expected
        assert all(process.popen.poll() is None for process in server.processes)
        assert server.config()["database"]["name"] == "psycopg2"
        assert server.config()["redis"]["enabled"] is True
        assert server.config()["redis"]["dbid"] != 0
