"""Room latencies and throughput against any Matrix homeserver: create, send, join, paginate.

  python -m bench.rooms --url http://127.0.0.1:8008 --messages 200 --concurrency 8 --members 200 [--json out.json]
  python -m bench.rooms --url http://127.0.0.1:8008 --phases join --members 1000      # only the growing room

Phases (accounts are registered first and not measured; raise the server's rate limits, see bench/README.md):

  createRoom/sequential       one private room at a time
  send/sequential             messages into one room, one at a time (each a new txn id)
  send/one-room concurrent    ``--concurrency`` members sending into one shared room
  send/many-rooms concurrent  ``--concurrency`` users each sending into their own room
  join/sequential             ``--members`` users joining one public room, one after another (the room grows);
                              reported overall and for each quarter of the joins, so growth shows as a trend
  messages/sequential         paginating that room's history backwards, 20 events a page

``--phases`` picks a subset (``create,send,join,messages``; ``messages`` pages the room the send phases fill, so it
needs ``send``). Every loop is bounded by its count and by ``--deadline``; failures are counted, never retried.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from collections.abc import Sequence
from typing import Any

import httpx

from bench.harness import (
    MAX_ERROR_SAMPLES,
    OperationFailed,
    PhaseResult,
    add_run_arguments,
    build_report,
    check_run_arguments,
    describe,
    run_items,
    run_main,
)

CLIENT = "/_matrix/client/v3"
PHASES = ("create", "send", "join", "messages")
JOIN_SLICES = 4


async def register(client: httpx.AsyncClient, localpart: str) -> str:
    """A new account through the dummy flow (the first request only asks for the flows); returns its token."""
    first = await client.post(f"{CLIENT}/register", json={})
    session = first.json().get("session")
    body = {"username": localpart, "password": secrets.token_urlsafe(12),
            "auth": {"type": "m.login.dummy", "session": session}}
    second = await client.post(f"{CLIENT}/register", json=body)
    if second.status_code != 200:
        raise OperationFailed(f"register failed: {describe(second)}")
    return str(second.json()["access_token"])


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def create_room(client: httpx.AsyncClient, token: str, **body: Any) -> str:
    response = await client.post(f"{CLIENT}/createRoom", json=body, headers=_auth(token))
    if response.status_code != 200:
        raise OperationFailed(f"createRoom failed: {describe(response)}")
    return str(response.json()["room_id"])


async def send(client: httpx.AsyncClient, token: str, room_id: str, text: str) -> None:
    txn = secrets.token_hex(8)
    response = await client.put(f"{CLIENT}/rooms/{room_id}/send/m.room.message/{txn}",
                                json={"msgtype": "m.text", "body": text}, headers=_auth(token))
    if response.status_code != 200:
        raise OperationFailed(f"send failed: {describe(response)}")


async def join(client: httpx.AsyncClient, token: str, room_id: str) -> None:
    response = await client.post(f"{CLIENT}/rooms/{room_id}/join", json={}, headers=_auth(token))
    if response.status_code != 200:
        raise OperationFailed(f"join failed: {describe(response)}")


def combined(parts: Sequence[PhaseResult], mode: str) -> PhaseResult:
    """One phase made of consecutive parts run one after another (their wall times add up)."""
    whole = PhaseResult(parts[0].operation, mode, parts[0].concurrency)
    for part in parts:
        whole.attempted += part.attempted
        whole.succeeded += part.succeeded
        whole.failed += part.failed
        whole.wall_seconds += part.wall_seconds
        whole.latencies_ms += part.latencies_ms
        whole.error_samples += part.error_samples[:MAX_ERROR_SAMPLES - len(whole.error_samples)]
    return whole


async def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    deadline = time.monotonic() + args.deadline
    run_id = secrets.token_hex(4)
    limits = httpx.Limits(max_connections=args.concurrency + 4, max_keepalive_connections=args.concurrency + 4)
    results: list[PhaseResult] = []
    async with httpx.AsyncClient(base_url=args.url, timeout=args.timeout, limits=limits) as client:
        (await client.get("/_matrix/client/versions")).raise_for_status()
        senders_needed = args.concurrency if "send" in args.phases else 0
        tokens = await asyncio.gather(*(register(client, f"bench_{run_id}_{i}") for i in range(senders_needed + 1)))
        owner, senders = tokens[0], tokens[1:]

        if "create" in args.phases:
            async def create(_: int) -> None:
                await create_room(client, owner, preset="private_chat")

            results.append((await run_items("createRoom", create, range(args.rooms), 1, deadline))[0])

        if "send" in args.phases:
            shared = await send_phases(client, args, owner, senders, deadline, results)

        if "join" in args.phases:
            await join_phase(client, args, owner, run_id, deadline, results)

        if "messages" in args.phases:
            pages: list[str | None] = [None]

            async def page(_: int) -> None:
                query = {"dir": "b", "limit": "20"} | ({"from": pages[-1]} if pages[-1] else {})
                response = await client.get(f"{CLIENT}/rooms/{shared}/messages", params=query,
                                            headers=_auth(owner))
                if response.status_code != 200:
                    raise OperationFailed(f"messages failed: {describe(response)}")
                pages.append(response.json().get("end"))

            results.append((await run_items("messages", page, range(max(1, args.messages // 20)), 1,
                                            deadline))[0])

    return build_report(args.url, results, items=args.messages, concurrency=args.concurrency,
                        deadline_seconds=args.deadline, deadline_hit=time.monotonic() >= deadline)


async def send_phases(client: httpx.AsyncClient, args: argparse.Namespace, owner: str, senders: Sequence[str],
                      deadline: float, results: list[PhaseResult]) -> str:
    """Sequential sends, then concurrent ones into one shared room and into a room each; returns the shared room."""
    own_room = await create_room(client, owner, preset="private_chat")
    texts = [f"message {i}" for i in range(args.messages)]
    results.append((await run_items("send", lambda text: send(client, owner, own_room, text), texts, 1,
                                    deadline))[0])

    shared = await create_room(client, owner, preset="public_chat")
    await asyncio.gather(*(join(client, token, shared) for token in senders))
    jobs = [(senders[i % len(senders)], f"shared {i}") for i in range(args.messages)]
    results.append((await run_items("send", lambda job: send(client, job[0], shared, job[1]), jobs,
                                    args.concurrency, deadline, mode="one-room concurrent"))[0])

    rooms = await asyncio.gather(*(create_room(client, token, preset="private_chat") for token in senders))
    mine = [(senders[i % len(senders)], rooms[i % len(rooms)], f"own {i}") for i in range(args.messages)]
    results.append((await run_items("send", lambda job: send(client, job[0], job[1], job[2]), mine,
                                    args.concurrency, deadline, mode="many-rooms concurrent"))[0])
    return shared


async def join_phase(client: httpx.AsyncClient, args: argparse.Namespace, owner: str, run_id: str,
                     deadline: float, results: list[PhaseResult]) -> None:
    """``--members`` joins into one public room, one at a time: overall, then per quarter of the joins."""
    lobby = await create_room(client, owner, preset="public_chat")
    joiners = list(await asyncio.gather(*(register(client, f"bench_{run_id}_m{i}") for i in range(args.members))))
    step = -(-len(joiners) // JOIN_SLICES)
    slices = []
    for start in range(0, len(joiners), step):
        part = joiners[start:start + step]
        mode = f"members {start + 2}-{start + len(part) + 1}"  # the owner is member 1
        slices.append((await run_items("join", lambda token: join(client, token, lobby), part, 1, deadline,
                                       mode=mode))[0])
    results.append(combined(slices, f"room growing to {len(joiners) + 1}"))
    if len(slices) > 1:
        results.extend(slices)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.rooms", description=__doc__.splitlines()[0])
    add_run_arguments(parser, concurrency=8, deadline=600.0)
    parser.add_argument("--rooms", type=int, default=20, help="rooms created in the createRoom phase")
    parser.add_argument("--messages", type=int, default=200, help="messages per send phase")
    parser.add_argument("--members", type=int, default=100, help="users joining the growing room")
    parser.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated subset of {','.join(PHASES)}")
    args = parser.parse_args(argv)
    args.phases = {phase.strip() for phase in args.phases.split(",") if phase.strip()}
    if not args.phases or not args.phases <= set(PHASES):
        parser.error(f"--phases: choose from {', '.join(PHASES)}")
    if "messages" in args.phases and "send" not in args.phases:
        parser.error("--phases: messages pages the room the send phases fill; add send")
    check_run_arguments(parser, args, ("rooms", "messages", "members"))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(parse_args(argv), run_benchmark)


if __name__ == "__main__":
    sys.exit(main())
