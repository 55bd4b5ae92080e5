"""/sync latencies against any Matrix homeserver: initial sync, empty incremental sync, delivery to many
receivers, and how many long-polls one server holds while it keeps answering other requests.

  python -m bench.sync --url http://127.0.0.1:8008 --rooms 50 --receivers 20 --messages 20 --polls 200

Phases (accounts and rooms are set up first and not measured; raise the server's rate limits, bench/README.md):

  initial/sequential        ``GET /sync`` without ``since`` for a user joined to ``--rooms`` rooms of 5 messages
  incremental-empty/seq     ``GET /sync?since=...&timeout=0`` with nothing new, repeated
  delivery/fan-out          ``--receivers`` users long-poll one room; a sender sends ``--messages`` messages one
                            after another; each sample is one receiver's wait from the send request to the /sync
                            answer that carries the message (so ``--receivers`` x ``--messages`` samples)
  held-polls/probe          ``--polls`` users long-poll (30 s) at once; meanwhile ``GET /versions`` is timed (a
                            server that holds a thread per poll stops answering once they are used up)
  held-polls wake           then one message arrives in a room ``--receivers`` of them share: each sample is one
                            member's wait from the send to its /sync answer, the others still waiting

Every loop is bounded by its count and by ``--deadline``; failures are counted, never retried.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from typing import Any

import httpx

from bench.harness import MAX_COUNT, OperationFailed, PhaseResult, build_report, describe, emit, run_items
from bench.rooms import CLIENT, create_room, join, register, send

POLL_SECONDS = 30
PROBES = 20
SETTLE_SECONDS = 5.0
SETTLE_PER_POLL_SECONDS = 0.01
WAKE_WINDOW_SECONDS = 10.0
"""How long the woken members' answers are awaited; later ones count as failed."""


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sync_once(client: httpx.AsyncClient, token: str, since: str | None = None,
                    timeout_ms: int = 0) -> dict[str, Any]:
    params: dict[str, Any] = {"timeout": timeout_ms}
    if since:
        params["since"] = since
    response = await client.get(f"{CLIENT}/sync", params=params, headers=_auth(token),
                                timeout=timeout_ms / 1000 + 30)
    if response.status_code != 200:
        raise OperationFailed(f"sync failed: {describe(response)}")
    return response.json()  # type: ignore[no-any-return]


def _carries(body: dict[str, Any], room_id: str, text: str) -> bool:
    section = body.get("rooms", {}).get("join", {}).get(room_id)
    return bool(section) and any(event.get("content", {}).get("body") == text
                                 for event in section["timeline"]["events"])


async def initial_and_empty(client: httpx.AsyncClient, rooms: int, repeats: int,
                            deadline: float) -> list[PhaseResult]:
    token = await register(client, f"bench_{secrets.token_hex(4)}_many")
    for index in range(rooms):
        room_id = await create_room(client, token, preset="private_chat", name=f"Room {index}")
        for message in range(5):
            await send(client, token, room_id, f"message {message}")
    since: list[str] = []

    async def initial(_: int) -> None:
        since.append((await sync_once(client, token))["next_batch"])

    first, _ = await run_items("initial", initial, range(repeats), 1, deadline, mode=f"{rooms} rooms")

    async def empty(_: int) -> None:
        body = await sync_once(client, token, since[-1])
        if body.get("rooms", {}).get("join"):
            raise OperationFailed("an empty incremental sync brought rooms")

    second, _ = await run_items("incremental-empty", empty, range(repeats * 5), 1, deadline, mode="timeout=0")
    return [first, second]


async def delivery(client: httpx.AsyncClient, receivers: int, messages: int, deadline: float) -> PhaseResult:
    sender = await register(client, f"bench_{secrets.token_hex(4)}_sender")
    room_id = await create_room(client, sender, preset="public_chat")
    tokens = [await register(client, f"bench_{secrets.token_hex(4)}_r{index}") for index in range(receivers)]
    for token in tokens:
        await join(client, token, room_id)
    positions = {token: (await sync_once(client, token))["next_batch"] for token in tokens}
    result = PhaseResult("delivery", f"{receivers} receivers", receivers)
    started = time.perf_counter()
    for index in range(messages):
        if time.monotonic() >= deadline:
            break
        text = f"delivery {index} {secrets.token_hex(4)}"
        sent_at: list[float] = []

        async def receive(token: str, text: str = text, sent_at: list[float] = sent_at) -> float:
            since = positions[token]
            while True:
                body = await sync_once(client, token, since, timeout_ms=POLL_SECONDS * 1000)
                since = body["next_batch"]
                if _carries(body, room_id, text):
                    positions[token] = since
                    return (time.perf_counter() - sent_at[0]) * 1000

        waiting = [asyncio.ensure_future(receive(token)) for token in tokens]
        await asyncio.sleep(0.2)  # let every receiver's long-poll reach the server first
        sent_at.append(time.perf_counter())
        await send(client, sender, room_id, text)
        for outcome in await asyncio.gather(*waiting, return_exceptions=True):
            result.attempted += 1
            if isinstance(outcome, BaseException):
                result.failed += 1
                result.error_samples.append(f"{type(outcome).__name__}: {outcome}"[:200])
            else:
                result.succeeded += 1
                result.latencies_ms.append(outcome)
    result.wall_seconds = time.perf_counter() - started
    return result


async def held_polls(url: str, polls: int, woken: int, deadline: float) -> tuple[PhaseResult, PhaseResult]:
    """``polls`` users each long-poll; ``woken`` of them share a room that then gets one message. Returns the
    probe latencies during the hold and the woken members' delivery latencies."""
    limits = httpx.Limits(max_connections=polls + PROBES + 20, max_keepalive_connections=polls + 20)
    async with httpx.AsyncClient(base_url=url, timeout=POLL_SECONDS + 30, limits=limits) as client:
        sender = await register(client, f"bench_{secrets.token_hex(4)}_poller")
        room_id = await create_room(client, sender, preset="public_chat")
        tag = secrets.token_hex(3)
        tokens = [await register(client, f"bench_{tag}_p{index}") for index in range(polls)]
        members = tokens[:woken]
        for token in members:
            await join(client, token, room_id)
        since = {token: (await sync_once(client, token))["next_batch"] for token in tokens}
        text = f"wake {secrets.token_hex(4)}"
        arrivals: list[float] = []

        async def poll(token: str) -> None:
            """Long-poll again and again (presence and the like also answer a poll) until the message comes."""
            position = since[token]
            while True:
                body = await sync_once(client, token, position, timeout_ms=POLL_SECONDS * 1000)
                position = body["next_batch"]
                if _carries(body, room_id, text):
                    arrivals.append(time.perf_counter())
                    return

        waiting = [asyncio.ensure_future(poll(token)) for token in tokens]
        # Every poll sent, its first answer computed, and waiting: a server spends a few ms on each one's first look.
        await asyncio.sleep(SETTLE_SECONDS + polls * SETTLE_PER_POLL_SECONDS)

        async def probe(_: int) -> None:
            response = await client.get("/_matrix/client/versions", timeout=POLL_SECONDS + 5)
            if response.status_code != 200:
                raise OperationFailed(f"versions failed: {describe(response)}")

        probes, _ = await run_items("held-polls", probe, range(PROBES), 1, deadline, mode=f"{polls} polls")
        delivery = PhaseResult("held-polls wake", f"{woken} of {polls}", woken)
        sent = time.perf_counter()
        await send(client, sender, room_id, text)
        await asyncio.wait(waiting[:woken], timeout=WAKE_WINDOW_SECONDS)
        delivery.wall_seconds = time.perf_counter() - sent
        delivery.latencies_ms = [(arrival - sent) * 1000 for arrival in arrivals]
        delivery.attempted, delivery.succeeded = woken, len(arrivals)
        delivery.failed = woken - len(arrivals)
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        return probes, delivery


async def run(args: argparse.Namespace) -> dict[str, Any]:
    deadline = time.monotonic() + args.deadline
    phases: list[PhaseResult] = []
    async with httpx.AsyncClient(base_url=args.url, timeout=args.timeout,
                                 limits=httpx.Limits(max_connections=args.receivers + 20)) as client:
        phases += await initial_and_empty(client, args.rooms, args.repeats, deadline)
        phases.append(await delivery(client, args.receivers, args.messages, deadline))
    if args.polls:
        phases += await held_polls(args.url, args.polls, min(args.receivers, args.polls), deadline)
    report = build_report(args.url, phases, items=args.receivers, concurrency=args.receivers,
                          deadline_seconds=args.deadline, deadline_hit=time.monotonic() >= deadline)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=20, help="initial syncs (and 5x as many empty ones)")
    parser.add_argument("--receivers", type=int, default=20)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--polls", type=int, default=200, help="users long-polling at once (0: skip)")
    parser.add_argument("--deadline", type=float, default=600.0)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    for name in ("rooms", "repeats", "receivers", "messages", "polls"):
        if not 0 <= getattr(args, name) <= MAX_COUNT:
            parser.error(f"--{name} must be between 0 and {MAX_COUNT}")
    report = asyncio.run(run(args))
    return emit(report, args.json)


if __name__ == "__main__":
    sys.exit(main())
