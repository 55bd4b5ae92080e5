"""One message wakes a room whose members all long-poll: how long the wake takes, and what it does to everyone else.

  python -m bench.wake --server ganglion=http://127.0.0.1:18008@PID --server synapse=http://127.0.0.1:18118@PID \
      --members 1000 --rounds 2 [--idle-users 1000 --idle-polls 9] [--json out.json]

Each ``--server NAME=URL[+URL...][@PID,PID...]`` (several URLs: the web processes of one deployment, polls and
probes spread over them) gets ``--members`` accounts joined to one public room (and
``--idle-users`` accounts in no room, each holding ``--idle-polls`` long-polls, to show how many a deployment
holds); setup is not measured. The servers are then measured one after another, round by round (alternating, so a
neighbour's load falls on both). A round:

  hold      every member (and idle poll) long-polls ``/sync`` (``set_presence=offline``, lazy-loaded members, so
            presence and membership do not wake them) until no answer came for 2 s and the server answers
            ``GET /versions`` within 50 ms five times in a row: they all wait
  quiet     ``--probes`` clients time other requests (``GET /versions``, ``GET /account/whoami``) for 1 s
  wake      the room's owner sends one message; each sample is one member's wait from the send request to the
            ``/sync`` answer carrying it; the probes keep going, and those started between the send and the last
            member's answer are the "during" sample

Reported per round: wake p50/p95/max, probes' p50/p99/max quiet and during, CPU seconds of the PIDs given (and
their descendants) from the send to the last answer, the load average. Long-polls go through ``bench.polls`` (one
socket per poll, no pool), so one client process holds 10,000; the open-file limit is raised to the hard limit.
Every loop is bounded by its count and by ``--deadline``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.harness import MAX_COUNT, percentile
from bench.polls import Endpoint, get_json, raise_open_files
from bench.rooms import CLIENT, create_room, join, register, send

POLL_MS = 120_000
QUIET_S = 2.0
IDLE_PROBES = 5
IDLE_MS = 50.0
BASELINE_S = 1.0
SETUP_CONCURRENCY = 8
POLL_FILTER = json.dumps({"room": {"timeline": {"limit": 5}, "state": {"lazy_load_members": True},
                                   "ephemeral": {"not_types": ["*"]}},
                          "presence": {"not_types": ["*"]}, "account_data": {"not_types": ["*"]}})
NO_ROOMS = json.dumps({"room": {"rooms": []}, "presence": {"not_types": ["*"]}})


@dataclass
class Server:
    name: str
    urls: list[str]
    """Its web listeners: setup goes to the first, polls and probes are spread over all of them."""
    pids: list[int]
    owner: str = ""
    room_id: str = ""
    members: list[str] = field(default_factory=list)
    idle: list[str] = field(default_factory=list)

    @staticmethod
    def parse(text: str) -> Server:
        name, _, rest = text.partition("=")
        urls, _, pids = rest.partition("@")
        return Server(name, [url.rstrip("/") for url in urls.split("+")], [int(pid) for pid in pids.split(",") if pid])

    @property
    def url(self) -> str:
        return self.urls[0]


def _descendants(pids: list[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = set(), list(pids)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo += children.get(pid, [])
    return found


def cpu_seconds(pids: set[int]) -> float:
    """utime + stime of ``pids`` from /proc (processes that ended meanwhile count as 0)."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


async def _gathered(coroutines: list[Any]) -> list[Any]:
    limit = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def one(coroutine: Any) -> Any:
        async with limit:
            return await coroutine

    return list(await asyncio.gather(*(one(c) for c in coroutines)))


async def set_up(server: Server, members: int, idle_users: int) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
        tag = secrets.token_hex(3)
        server.owner = await register(client, f"wake_{tag}_owner")
        server.room_id = await create_room(client, server.owner, preset="public_chat")
        server.members = await _gathered([register(client, f"wake_{tag}_m{i}") for i in range(members)])
        await _gathered([join(client, token, server.room_id) for token in server.members])
        server.idle = await _gathered([register(client, f"wake_{tag}_i{i}") for i in range(idle_users)])


def _carries(body: dict[str, Any], room_id: str, text: str) -> bool:
    section = body.get("rooms", {}).get("join", {}).get(room_id)
    return bool(section) and any(event.get("content", {}).get("body") == text
                                 for event in section.get("timeline", {}).get("events", []))


@dataclass
class Round:
    server: str
    members: int
    held: int
    load_before: float = 0.0
    load_after: float = 0.0
    wake_ms: list[float] = field(default_factory=list)
    failed: int = 0
    probes_quiet_ms: list[float] = field(default_factory=list)
    probes_during_ms: list[float] = field(default_factory=list)
    cpu_s: float | None = None

    def summary(self) -> dict[str, Any]:
        def stats(values: list[float], *pcts: float) -> dict[str, float | None]:
            ordered = sorted(values)
            out = {f"p{pct:g}": percentile(ordered, pct) for pct in pcts}
            out["max"] = ordered[-1] if ordered else None
            return {key: round(value, 1) if value is not None else None for key, value in out.items()}
        return {"server": self.server, "members": self.members, "held": self.held, "woken": len(self.wake_ms),
                "failed": self.failed, "wake_ms": stats(self.wake_ms, 50, 95),
                "probe_quiet_ms": stats(self.probes_quiet_ms, 50, 99) | {"n": len(self.probes_quiet_ms)},
                "probe_during_ms": stats(self.probes_during_ms, 50, 99) | {"n": len(self.probes_during_ms)},
                "cpu_s": round(self.cpu_s, 2) if self.cpu_s is not None else None,
                "load": [round(self.load_before, 2), round(self.load_after, 2)]}


async def measure(server: Server, idle_polls: int, probes: int, window_s: float, ramp: float) -> Round:
    endpoints = [Endpoint.of(url) for url in server.urls]
    pollers = [(token, True) for token in server.members] + [
        (token, False) for token in server.idle for _ in range(idle_polls)]
    result = Round(server.name, len(server.members), len(pollers), load_before=os.getloadavg()[0])
    text = f"wake {secrets.token_hex(4)}"
    last_answer = [time.monotonic()]
    arrivals: list[float] = []
    starts = await _gathered([get_json(endpoints[0], f"{CLIENT}/sync", {"filter": NO_ROOMS, "set_presence": "offline"},
                                       token, 120)
                              for token in dict.fromkeys(token for token, _ in pollers)])
    since = dict(zip(dict.fromkeys(token for token, _ in pollers), (body["next_batch"] for body in starts),
                     strict=True))

    async def poll(token: str, member: bool, endpoint: Endpoint) -> None:
        position = since[token]
        while True:
            body = await get_json(endpoint, f"{CLIENT}/sync", {"since": position, "timeout": POLL_MS,
                                                                "filter": POLL_FILTER, "set_presence": "offline"},
                                  token, POLL_MS / 1000 + 60)
            last_answer[0] = time.monotonic()
            position = body["next_batch"]
            if member and _carries(body, server.room_id, text):
                arrivals.append(time.perf_counter())
                return

    tasks = []
    for index, (token, member) in enumerate(pollers):
        tasks.append(asyncio.ensure_future(poll(token, member, endpoints[index % len(endpoints)])))
        if ramp:
            await asyncio.sleep(1 / ramp)  # clients come and go: a hold is reached, not stormed
    await _settled(server, last_answer, time.monotonic() + window_s)
    # Probes run in a process of their own: timed from here, they would wait for this loop reading the woken
    # members' answers, which is the client's delay, not the server's.
    context = multiprocessing.get_context("spawn")
    ready, stop, log = context.Event(), context.Event(), context.Queue()
    prober = context.Process(target=_probe_process, args=(server.urls, server.owner, probes, ready, stop, log))
    prober.start()
    await asyncio.get_running_loop().run_in_executor(None, ready.wait, window_s)
    await asyncio.sleep(BASELINE_S)
    pids = _descendants(server.pids)
    cpu_before = cpu_seconds(pids)
    sent = time.perf_counter()
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        await send(client, server.owner, server.room_id, text)
    members = tasks[:len(server.members)]
    await asyncio.wait(members, timeout=window_s)
    woken_by = max(arrivals) if arrivals else time.perf_counter()
    if pids:
        result.cpu_s = cpu_seconds(pids) - cpu_before
    stop.set()
    probe_log: list[tuple[float, float]] = await asyncio.get_running_loop().run_in_executor(None, log.get)
    prober.join()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    result.wake_ms = [(arrival - sent) * 1000 for arrival in arrivals]
    result.failed = len(server.members) - len(arrivals)
    result.probes_quiet_ms = [ms for started, ms in probe_log if started < sent]
    result.probes_during_ms = [ms for started, ms in probe_log if sent <= started <= woken_by]
    result.load_after = os.getloadavg()[0]
    return result


def _probe_process(urls: list[str], token: str, clients: int, ready: Any, stop: Any, log: Any) -> None:
    """``clients`` loops timing ``GET /versions`` and ``GET /account/whoami`` (``ready`` set at the first answer)
    until ``stop`` is set; puts
    ``[(started, ms)]`` (``time.perf_counter()``, the same clock in every process of the machine) on ``log``."""
    samples: list[tuple[float, float]] = []

    async def probe(index: int) -> None:
        async with httpx.AsyncClient(base_url=urls[index // 2 % len(urls)], timeout=60) as client:
            while not stop.is_set():
                started = time.perf_counter()
                if index % 2:
                    response = await client.get(f"{CLIENT}/account/whoami",
                                                headers={"Authorization": f"Bearer {token}"})
                else:
                    response = await client.get("/_matrix/client/versions")
                if response.status_code == 200:
                    samples.append((started, (time.perf_counter() - started) * 1000))
                    ready.set()
                await asyncio.sleep(0.01)

    async def run() -> None:
        await asyncio.gather(*(probe(index) for index in range(clients)))

    asyncio.run(run())
    log.put(samples)


async def _settled(server: Server, last_answer: list[float], deadline: float) -> None:
    """Wait (until ``deadline``) until every poll waits: no answer for :data:`QUIET_S`, and the server idle again
    (:data:`IDLE_PROBES` ``GET /versions`` in a row within :data:`IDLE_MS`), since a poll's first look answers
    nothing but still costs the server a sync."""
    async with httpx.AsyncClient(timeout=60) as client:
        fast = 0
        while time.monotonic() < deadline and (fast < IDLE_PROBES * len(server.urls)
                                               or time.monotonic() - last_answer[0] < QUIET_S):
            started = time.perf_counter()
            await client.get(f"{server.urls[fast % len(server.urls)]}/_matrix/client/versions")
            fast = fast + 1 if (time.perf_counter() - started) * 1000 < IDLE_MS else 0
            await asyncio.sleep(0.2)


def _line(summary: dict[str, Any]) -> str:
    wake, quiet, during = summary["wake_ms"], summary["probe_quiet_ms"], summary["probe_during_ms"]
    return (f"| {summary['server']} | {summary['held']} | {summary['woken']}/{summary['members']} | "
            f"{wake['p50']} | {wake['p95']} | {wake['max']} | {quiet['p50']} / {quiet['p99']} | "
            f"{during['p50']} / {during['p99']} / {during['max']} ({during['n']}) | {summary['cpu_s']} | "
            f"{summary['load'][0]}-{summary['load'][1]} |")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    servers = [Server.parse(text) for text in args.server]
    deadline = time.monotonic() + args.deadline
    saved = json.loads(Path(args.state).read_text()) if args.state and os.path.exists(args.state) else {}
    for server in servers:
        kept = saved.get(server.name, {})
        if len(kept.get("members", [])) == args.members and len(kept.get("idle", [])) == args.idle_users:
            server.owner, server.room_id, server.members, server.idle = (
                kept["owner"], kept["room_id"], kept["members"], kept["idle"])
        else:
            await set_up(server, args.members, args.idle_users)
            saved[server.name] = {"owner": server.owner, "room_id": server.room_id, "members": server.members,
                                  "idle": server.idle}
            if args.state:
                with open(args.state, "w") as out:
                    json.dump(saved, out)
    rounds: list[dict[str, Any]] = []
    print("| server | held | woken | wake p50 ms | p95 | max | probes quiet p50 / p99 | during p50 / p99 / max (n) "
          "| CPU s | load |", flush=True)
    for _ in range(args.rounds):
        for server in servers:
            if time.monotonic() >= deadline:
                break
            summary = (await measure(server, args.idle_polls, args.probes, args.window, args.ramp)).summary()
            print(_line(summary), flush=True)
            rounds.append(summary)
    return {"members": args.members, "idle_users": args.idle_users, "idle_polls": args.idle_polls,
            "rounds": rounds, "argv": sys.argv}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", action="append", required=True, help="NAME=URL[+URL...][@PID,PID...]")
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--idle-users", type=int, default=0)
    parser.add_argument("--idle-polls", type=int, default=1, help="long-polls each idle user holds")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--probes", type=int, default=4, help="clients timing other requests meanwhile")
    parser.add_argument("--window", type=float, default=60.0, help="seconds to wait for the hold and the wake")
    parser.add_argument("--deadline", type=float, default=3600.0)
    parser.add_argument("--ramp", type=float, default=0.0, help="long-polls opened per second (0: all at once)")
    parser.add_argument("--json")
    parser.add_argument("--state", help="keep the accounts set up in this file and reuse them (same counts) next run")
    args = parser.parse_args(argv)
    if not 1 <= args.members <= MAX_COUNT or not 0 <= args.idle_users * args.idle_polls <= MAX_COUNT:
        parser.error(f"--members and --idle-users x --idle-polls must be at most {MAX_COUNT}")
    if not 1 <= args.rounds <= 10 or not 0 <= args.probes <= 32:
        parser.error("--rounds must be 1-10 and --probes 0-32")
    limit = raise_open_files(args.members + args.idle_users * args.idle_polls + 1000)
    print(f"open-file limit {limit}; load average {os.getloadavg()}", flush=True)
    report = asyncio.run(run(args))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
