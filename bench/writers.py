"""Send throughput and delivery latency across many rooms: what more events writers buy (any homeserver URL).

  python -m bench.writers --url http://127.0.0.1:8008 --rooms 16 --messages 400 --concurrency 16 [--json out.json]

Setup (not measured): ``--rooms`` senders each create a room, and one watcher joins them all. Then:

  send/many-rooms concurrent  ``--messages`` sends spread round-robin over the rooms, ``--concurrency`` in flight;
                              rooms hash to different events writers, so this is the load more writers share
  delivery                    for each of those sends, the time from issuing the PUT until the watcher's /sync
                              long-poll returned the event: the client-visible latency of a message, including
                              the writer's queue, the commit, the doorbell and the /sync wake-up
  sync                        the round trip of each of the watcher's /syncs that brought new messages (its
                              req/s column counts those syncs per second of the send phase)

Every loop is bounded by its count and by ``--deadline``; failures are counted, never retried.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
from collections.abc import Sequence
from typing import Any

import httpx

from bench.harness import (
    OperationFailed,
    PhaseResult,
    add_run_arguments,
    build_report,
    check_run_arguments,
    describe,
    emit,
    run_items,
)
from bench.rooms import CLIENT, create_room, join, register


async def _watch(client: httpx.AsyncClient, token: str, since: str, issued: dict[str, float],
                 delivered: dict[str, float], stop: asyncio.Event, syncs: PhaseResult) -> None:
    """Long-poll /sync and note when each message (by its body's tag) first arrives; ``syncs`` gets the round
    trip of every /sync that brought something (the reader's own cost, apart from waiting)."""
    wide = json.dumps({"room": {"timeline": {"limit": 1000}}, "presence": {"types": []}})
    while not stop.is_set():
        asked = time.perf_counter()
        response = await client.get(f"{CLIENT}/sync", params={"since": since, "timeout": 1000, "filter": wide},
                                    headers={"Authorization": f"Bearer {token}"})
        arrived = time.perf_counter()
        syncs.attempted += 1
        if response.status_code != 200:
            raise OperationFailed(f"sync failed: {describe(response)}")
        body = response.json()
        since = body["next_batch"]
        brought = 0
        for room in body.get("rooms", {}).get("join", {}).values():
            for event in room["timeline"]["events"]:
                tag = event.get("content", {}).get("tag")
                if isinstance(tag, str) and tag in issued and tag not in delivered:
                    delivered[tag] = arrived
                    brought += 1
        if brought:
            syncs.succeeded += 1
            syncs.latencies_ms.append((arrived - asked) * 1000)


async def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    deadline = time.monotonic() + args.deadline
    run_id = secrets.token_hex(4)
    limits = httpx.Limits(max_connections=args.concurrency + 8, max_keepalive_connections=args.concurrency + 8)
    async with httpx.AsyncClient(base_url=args.url, timeout=args.timeout, limits=limits) as client:
        (await client.get("/_matrix/client/versions")).raise_for_status()
        tokens = await asyncio.gather(*(register(client, f"bw_{run_id}_{i}") for i in range(args.rooms + 1)))
        watcher, senders = tokens[0], tokens[1:]
        rooms = await asyncio.gather(*(create_room(client, token, preset="public_chat") for token in senders))
        for room in rooms:
            await join(client, watcher, room)
        first = await client.get(f"{CLIENT}/sync", params={"filter": json.dumps({"room": {"timeline": {"limit": 1}}})},
                                 headers={"Authorization": f"Bearer {watcher}"})
        since = first.json()["next_batch"]

        issued: dict[str, float] = {}
        delivered: dict[str, float] = {}
        stop = asyncio.Event()
        syncs = PhaseResult("sync", "watcher round trips that brought news", 1)
        watching = asyncio.create_task(_watch(client, watcher, since, issued, delivered, stop, syncs))
        jobs = [(senders[i % len(senders)], rooms[i % len(rooms)], f"{run_id}-{i}") for i in range(args.messages)]

        async def send(job: tuple[str, str, str]) -> None:
            token, room, tag = job
            issued[tag] = time.perf_counter()
            response = await client.put(f"{CLIENT}/rooms/{room}/send/m.room.message/{tag}",
                                        json={"msgtype": "m.text", "body": tag, "tag": tag},
                                        headers={"Authorization": f"Bearer {token}"})
            if response.status_code != 200:
                del issued[tag]
                raise OperationFailed(f"send failed: {describe(response)}")

        sends, _ = await run_items("send", send, jobs, args.concurrency, deadline, mode="many-rooms concurrent")
        settle = time.monotonic() + 30
        while len(delivered) < len(issued) and time.monotonic() < settle and not watching.done():
            await asyncio.sleep(0.05)
        stop.set()
        try:
            await asyncio.wait_for(watching, timeout=10)
        except (TimeoutError, OperationFailed, httpx.HTTPError):
            watching.cancel()

    delivery = PhaseResult("delivery", "send issued -> /sync returned it", args.concurrency)
    delivery.attempted = len(issued)
    delivery.latencies_ms = [(delivered[tag] - issued[tag]) * 1000 for tag in issued if tag in delivered]
    delivery.succeeded = len(delivery.latencies_ms)
    delivery.failed = delivery.attempted - delivery.succeeded
    delivery.wall_seconds = sends.wall_seconds
    if delivery.failed:
        delivery.error_samples.append(f"{delivery.failed} sent messages never reached the watcher's /sync")
    syncs.wall_seconds = sends.wall_seconds
    return build_report(args.url, [sends, delivery, syncs], items=args.messages, concurrency=args.concurrency,
                        deadline_seconds=args.deadline, deadline_hit=time.monotonic() >= deadline)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.writers", description=__doc__.splitlines()[0])
    add_run_arguments(parser, concurrency=16, deadline=300.0)
    parser.add_argument("--rooms", type=int, default=16, help="rooms (one sender each) the sends spread over")
    parser.add_argument("--messages", type=int, default=400, help="messages sent in the measured phase")
    args = parser.parse_args(argv)
    check_run_arguments(parser, args, ("rooms", "messages"))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return emit(asyncio.run(run_benchmark(args)), args.json)


if __name__ == "__main__":
    sys.exit(main())
