"""Registration and password-login latency against any Matrix homeserver, sequential and concurrent.

  python -m bench.accounts --url http://127.0.0.1:8008 --users 50 --concurrency 8 [--json out.json]

Four phases, each over ``--users`` fresh accounts with random names (so runs never collide):

  register/sequential   one registration at a time
  register/concurrent   ``--concurrency`` registrations in flight
  login/sequential      one password login at a time (each opens a new device)
  login/concurrent      ``--concurrency`` logins in flight

A registration is the whole dummy user-interactive-auth flow a client goes through: POST /register without
``auth`` (the 401 that hands out a session), then POST /register with ``{"type": "m.login.dummy", "session"}``.
Its latency spans both requests. Password hashing dominates both operations, so compare servers only at the
same ``bcrypt_rounds``.

Every loop is bounded: at most ``--users`` operations per phase, and no operation starts after ``--deadline``
seconds from the start of the run (each request also has ``--timeout``). Failures (including 429s: raise the
server's ``rc_registration``/``rc_login`` limits) are counted, not retried, and left out of the latencies.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bench.harness import OperationFailed, PhaseResult, build_report, describe, emit, run_items

REGISTER_PATH = "/_matrix/client/v3/register"
LOGIN_PATH = "/_matrix/client/v3/login"
VERSIONS_PATH = "/_matrix/client/versions"
MAX_USERS = 10_000


@dataclass(frozen=True)
class Account:
    localpart: str
    password: str


async def register(client: httpx.AsyncClient, account: Account) -> None:
    """The dummy UIA flow: get a session from the 401, then complete ``m.login.dummy`` with it."""
    body: dict[str, Any] = {"username": account.localpart, "password": account.password,
                            "initial_device_display_name": "bench"}
    first = await client.post(REGISTER_PATH, json=body)
    if first.status_code != 401 or "session" not in first.json():
        raise OperationFailed(f"register (no auth) expected 401 with a session, got {describe(first)}")
    session = first.json()["session"]
    second = await client.post(REGISTER_PATH, json={**body, "auth": {"type": "m.login.dummy", "session": session}})
    if second.status_code != 200 or "user_id" not in second.json():
        raise OperationFailed(f"register (dummy auth) failed: {describe(second)}")


async def login(client: httpx.AsyncClient, account: Account) -> None:
    body = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": account.localpart},
            "password": account.password, "initial_device_display_name": "bench"}
    response = await client.post(LOGIN_PATH, json=body)
    if response.status_code != 200 or "access_token" not in response.json():
        raise OperationFailed(f"login failed: {describe(response)}")


async def run_phase(client: httpx.AsyncClient, name: str,
                    operation: Callable[[httpx.AsyncClient, Account], Awaitable[None]],
                    accounts: Sequence[Account], concurrency: int,
                    deadline: float) -> tuple[PhaseResult, list[Account]]:
    """One phase over ``accounts``; returns the result and the accounts it succeeded for."""
    return await run_items(name, lambda account: operation(client, account), accounts, concurrency, deadline)


def new_accounts(count: int, run_id: str, tag: str) -> list[Account]:
    return [Account(f"bench_{run_id}_{tag}{index}", secrets.token_urlsafe(12)) for index in range(count)]


async def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    deadline = time.monotonic() + args.deadline
    run_id = secrets.token_hex(4)
    limits = httpx.Limits(max_connections=args.concurrency + 2, max_keepalive_connections=args.concurrency + 2)
    async with httpx.AsyncClient(base_url=args.url, timeout=args.timeout, limits=limits) as client:
        versions = await client.get(VERSIONS_PATH)
        versions.raise_for_status()
        for account in new_accounts(args.warmup, run_id, "w"):
            try:  # warm connections, caches and lazy imports; not measured
                await register(client, account)
                await login(client, account)
            except (OperationFailed, httpx.HTTPError) as error:
                raise SystemExit(f"warm-up failed, nothing would work: {error}") from error

        results: list[PhaseResult] = []
        sequential, seq_ok = await run_phase(client, "register", register, new_accounts(args.users, run_id, "s"),
                                             1, deadline)
        concurrent, conc_ok = await run_phase(client, "register", register,
                                              new_accounts(args.users, run_id, "c"), args.concurrency, deadline)
        results += [sequential, concurrent]
        login_seq, _ = await run_phase(client, "login", login, seq_ok, 1, deadline)
        login_conc, _ = await run_phase(client, "login", login, conc_ok, args.concurrency, deadline)
        results += [login_seq, login_conc]

    return build_report(args.url, results, items=args.users, concurrency=args.concurrency,
                        deadline_seconds=args.deadline, deadline_hit=time.monotonic() >= deadline)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.accounts", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8008", help="homeserver base URL")
    parser.add_argument("--users", type=int, default=50, help=f"accounts per phase (1..{MAX_USERS})")
    parser.add_argument("--concurrency", type=int, default=8, help="operations in flight in concurrent phases")
    parser.add_argument("--deadline", type=float, default=300.0,
                        help="seconds after which no new operation starts (default 300)")
    parser.add_argument("--timeout", type=float, default=60.0, help="per-request timeout in seconds")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured register+login rounds first")
    parser.add_argument("--json", metavar="PATH", help="also write the full report as JSON here")
    args = parser.parse_args(argv)
    if not 1 <= args.users <= MAX_USERS:
        parser.error(f"--users must be between 1 and {MAX_USERS}")
    if not 1 <= args.concurrency <= 256:
        parser.error("--concurrency must be between 1 and 256")
    if args.deadline <= 0 or args.timeout <= 0 or not 0 <= args.warmup <= 10:
        parser.error("--deadline and --timeout must be positive; --warmup between 0 and 10")
    args.url = args.url.rstrip("/")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = asyncio.run(run_benchmark(args))
    except httpx.HTTPError as error:
        print(f"cannot reach {args.url}: {error}", file=sys.stderr)
        return 1
    return emit(report, args.json)


if __name__ == "__main__":
    sys.exit(main())
