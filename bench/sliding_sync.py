"""Simplified sliding sync (MSC4186) latencies against any homeserver that serves it: the time to a first room list
for a user with many rooms, and how fast a new message wakes a waiting connection.

  python -m bench.sliding_sync --url http://127.0.0.1:8008 --rooms 100 --repeats 10 --messages 20

Phases (the user's rooms, each with one message, are set up first and not measured; raise rate limits,
bench/README.md):

  first-list     a new connection (no ``pos``) asking for the first 20 rooms of a list over all of them, sorted by
                 recency, with their name, encryption, own membership and latest event (what Element X asks for
                 its room list's first screen); each sample is one whole request
  wake           the user's connection long-polls (``timeout`` 30 s) and, once it waits, another user sends a
                 message in one of the rooms; each sample is the time from the send request to the answer carrying
                 the message (the send itself included)

Every loop is bounded by its count and by ``--deadline``; failures are counted, never retried.
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
    OperationFailed,
    PhaseResult,
    add_run_arguments,
    build_report,
    check_run_arguments,
    describe,
    run_items,
    run_main,
)
from bench.rooms import create_room, join, register, send

SLIDING_SYNC = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync"
POLL_MS = 30_000
SETTLE_SECONDS = 1.5
ROOM_LIST = {"lists": {"all": {
    "ranges": [[0, 19]], "timeline_limit": 1,
    "required_state": [["m.room.name", ""], ["m.room.encryption", ""], ["m.room.member", "$ME"],
                       ["m.room.create", ""]]}}}


async def sliding_sync(client: httpx.AsyncClient, token: str, body: dict[str, Any], pos: str | None = None,
                       timeout_ms: int = 0) -> dict[str, Any]:
    params: dict[str, Any] = {"timeout": timeout_ms} if timeout_ms else {}
    if pos:
        params["pos"] = pos
    response = await client.post(SLIDING_SYNC, params=params, json=body, headers={"Authorization": f"Bearer {token}"},
                                 timeout=timeout_ms / 1000 + 30)
    if response.status_code != 200:
        raise OperationFailed(f"sliding sync failed: {describe(response)}")
    return response.json()  # type: ignore[no-any-return]


def _carries(body: dict[str, Any], room_id: str, text: str) -> bool:
    room = body.get("rooms", {}).get(room_id) or {}
    return any(event.get("content", {}).get("body") == text for event in room.get("timeline", []))


async def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    deadline = time.monotonic() + args.deadline
    async with httpx.AsyncClient(base_url=args.url, timeout=args.timeout) as client:
        tag = secrets.token_hex(4)
        token = await register(client, f"bench_{tag}_lister")
        sender = await register(client, f"bench_{tag}_sender")
        room_ids = []
        for index in range(args.rooms):
            room_id = await create_room(client, token, preset="public_chat", name=f"Room {index}")
            await send(client, token, room_id, f"hello {index}")
            room_ids.append(room_id)
        await join(client, sender, room_ids[0])

        async def first_list(number: int) -> None:
            body = await sliding_sync(client, token, {**ROOM_LIST, "conn_id": f"bench{number}"})
            if body["lists"]["all"]["count"] != args.rooms or len(body["rooms"]) != min(20, args.rooms):
                raise OperationFailed(f"unexpected list: count {body['lists']['all']['count']}, "
                                      f"{len(body['rooms'])} rooms")

        phases = [(await run_items("first-list", first_list, range(args.repeats), 1, deadline,
                                   mode=f"{args.rooms} rooms"))[0]]
        phases.append(await wake(client, token, sender, room_ids[0], args.messages, deadline))
    return build_report(args.url, phases, items=args.rooms, concurrency=1, deadline_seconds=args.deadline,
                        deadline_hit=time.monotonic() >= deadline)


async def wake(client: httpx.AsyncClient, token: str, sender: str, room_id: str, messages: int,
               deadline: float) -> PhaseResult:
    result = PhaseResult("wake", "1 connection", 1)
    pos = (await sliding_sync(client, token, {**ROOM_LIST, "conn_id": "wake"}))["pos"]
    started = time.perf_counter()
    for index in range(messages):
        if time.monotonic() >= deadline:
            break
        text = f"wake {index} {secrets.token_hex(4)}"
        sent_at: list[float] = []

        async def receive(start: str, text: str = text, sent_at: list[float] = sent_at) -> tuple[float, str]:
            position = start
            while True:
                body = await sliding_sync(client, token, {**ROOM_LIST, "conn_id": "wake"}, position, POLL_MS)
                position = body["pos"]
                if _carries(body, room_id, text):
                    return (time.perf_counter() - sent_at[0]) * 1000, position

        waiting = asyncio.ensure_future(receive(pos))
        # The long-poll reaches the server and finishes its first look before the send: a send during that look
        # would be found by a second look, which measures the look twice instead of the wake-up.
        await asyncio.sleep(SETTLE_SECONDS)
        sent_at.append(time.perf_counter())
        result.attempted += 1
        try:
            await send(client, sender, room_id, text)
            latency, pos = await asyncio.wait_for(waiting, POLL_MS / 1000 + 5)
        except (OperationFailed, httpx.HTTPError, TimeoutError) as error:
            result.failed += 1
            result.error_samples.append(f"{type(error).__name__}: {error}"[:200])
            pos = (await sliding_sync(client, token, {**ROOM_LIST, "conn_id": "wake"}))["pos"]
            continue
        result.succeeded += 1
        result.latencies_ms.append(latency)
    result.wall_seconds = time.perf_counter() - started
    return result


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.sliding_sync", description=__doc__.splitlines()[0])
    add_run_arguments(parser, concurrency=1, deadline=900.0)
    parser.add_argument("--rooms", type=int, default=100, help="rooms the listing user is in")
    parser.add_argument("--repeats", type=int, default=10, help="first-list requests")
    parser.add_argument("--messages", type=int, default=20, help="messages in the wake phase")
    args = parser.parse_args(argv)
    check_run_arguments(parser, args, ("rooms", "repeats", "messages"))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(parse_args(argv), run_benchmark)


if __name__ == "__main__":
    sys.exit(main())
