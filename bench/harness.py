"""What every benchmark here shares: timing phases of operations, percentiles, and the report table.

A phase runs one operation per item with a fixed number in flight; nothing starts after the deadline, failures
are counted (with a few samples) and left out of the latencies, and nothing is retried.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

MAX_ERROR_SAMPLES = 5
MAX_COUNT = 10_000
"""The most items (rooms, messages, members...) one phase may take: every loop is bounded."""
MAX_CONCURRENCY = 256
T = TypeVar("T")


class OperationFailed(Exception):
    """An operation got an answer it should not have; the message says which."""


@dataclass
class PhaseResult:
    operation: str
    mode: str
    concurrency: int
    attempted: int = 0
    succeeded: int = 0
    failed: int = 0
    wall_seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    error_samples: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.succeeded / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)
        return {
            "operation": self.operation,
            "mode": self.mode,
            "concurrency": self.concurrency,
            "attempted": self.attempted,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "wall_seconds": round(self.wall_seconds, 3),
            "throughput_per_s": round(self.throughput, 2),
            "p50_ms": _rounded(percentile(ordered, 50)),
            "p90_ms": _rounded(percentile(ordered, 90)),
            "p95_ms": _rounded(percentile(ordered, 95)),
            "p99_ms": _rounded(percentile(ordered, 99)),
            "max_ms": _rounded(ordered[-1] if ordered else None),
            "mean_ms": _rounded(sum(ordered) / len(ordered) if ordered else None),
            "error_samples": self.error_samples,
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def percentile(ordered: Sequence[float], pct: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default) over an already sorted sequence."""
    if not ordered:
        return None
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)



def describe(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]!r}"
    if isinstance(body, dict):
        return f"HTTP {response.status_code} {body.get('errcode')}: {body.get('error')}"
    return f"HTTP {response.status_code}"



async def run_items(name: str, operation: Callable[[T], Awaitable[None]], items: Sequence[T], concurrency: int,
                    deadline: float, mode: str | None = None) -> tuple[PhaseResult, list[T]]:
    """Run ``operation`` once per item with ``concurrency`` in flight; returns the result and the items it
    succeeded for. Nothing starts after ``deadline`` (a ``time.monotonic()`` value)."""
    result = PhaseResult(name, mode or ("sequential" if concurrency == 1 else "concurrent"), concurrency)
    succeeded: list[T] = []
    pending = iter(items)

    async def worker() -> None:
        for item in pending:  # shared iterator: each item is taken by exactly one worker
            if time.monotonic() >= deadline:
                return
            result.attempted += 1
            started = time.perf_counter()
            try:
                await operation(item)
            except (OperationFailed, httpx.HTTPError, ValueError, KeyError) as error:
                result.failed += 1
                if len(result.error_samples) < MAX_ERROR_SAMPLES:
                    result.error_samples.append(f"{type(error).__name__}: {error}")
                continue
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            succeeded.append(item)
            result.succeeded += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(items))))))
    result.wall_seconds = time.perf_counter() - started
    return result, succeeded


def add_run_arguments(parser: argparse.ArgumentParser, *, concurrency: int, deadline: float) -> None:
    """The options every load benchmark takes: where, how many in flight, and its time bounds."""
    parser.add_argument("--url", default="http://127.0.0.1:8008", help="homeserver base URL")
    parser.add_argument("--concurrency", type=int, default=concurrency, help="operations in flight")
    parser.add_argument("--deadline", type=float, default=deadline, help="seconds after which nothing new starts")
    parser.add_argument("--timeout", type=float, default=60.0, help="per-request timeout in seconds")
    parser.add_argument("--json", metavar="PATH", help="also write the full report as JSON here")


def check_run_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace, counts: Sequence[str]) -> None:
    """Refuse (``parser.error``) counts outside 1..MAX_COUNT and bad concurrency or time bounds; trim the URL."""
    for name in counts:
        if not 1 <= getattr(args, name) <= MAX_COUNT:
            parser.error(f"--{name} must be between 1 and {MAX_COUNT}")
    if not 1 <= args.concurrency <= MAX_CONCURRENCY or args.deadline <= 0 or args.timeout <= 0:
        parser.error(f"--concurrency 1..{MAX_CONCURRENCY}, --deadline and --timeout positive")
    args.url = args.url.rstrip("/")


def format_table(report: dict[str, Any]) -> str:
    headers = ["operation", "mode", "conc", "ok", "failed", "p50 ms", "p90 ms", "p95 ms", "p99 ms", "max ms",
               "req/s"]
    rows = [[r["operation"], r["mode"], str(r["concurrency"]), str(r["succeeded"]), str(r["failed"]),
             *(_cell(r[key]) for key in ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms")),
             f"{r['throughput_per_s']:.1f}"] for r in report["results"]]
    widths = [max(len(headers[i]), *(len(row[i]) for row in rows)) for i in range(len(headers))]
    lines = [" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)),
             "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(c.rjust(w) if i >= 2 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths,
                                                                                          strict=True)))
              for row in rows]
    notes = [f"server {report['url']}, {report['users']} items per phase, {report['date']}"]
    if report["deadline_hit"]:
        notes.append(f"deadline of {report['deadline_seconds']}s reached: later phases may be partial")
    for r in report["results"]:
        for sample in r["error_samples"]:
            notes.append(f"{r['operation']}/{r['mode']} error: {sample}")
    return "\n".join([*lines, "", *notes])


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"




def build_report(url: str, phases: Sequence[PhaseResult], *, items: int, concurrency: int, deadline_seconds: float,
                 deadline_hit: bool) -> dict[str, Any]:
    """The report every benchmark prints and saves: where, when, on what machine, and each phase's summary."""
    return {
        "url": url,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "users": items,
        "concurrency": concurrency,
        "deadline_seconds": deadline_seconds,
        "deadline_hit": deadline_hit,
        "results": [phase.summary() for phase in phases],
    }


def emit(report: dict[str, Any], json_path: str | None) -> int:
    """Print the table, write the JSON when asked; the exit status says whether any operation failed."""
    print(format_table(report))
    if json_path:
        with open(json_path, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2)
            handle.write("\n")
    return 1 if any(r["failed"] for r in report["results"]) else 0


def run_main(args: argparse.Namespace, benchmark: Callable[[argparse.Namespace], Awaitable[dict[str, Any]]]) -> int:
    """A benchmark script's ``main``: run it, report a setup failure in one line, else :func:`emit` its report."""
    try:
        report = asyncio.run(benchmark(args))
    except (httpx.HTTPError, OperationFailed) as error:
        print(f"benchmark setup failed against {args.url}: {error}", file=sys.stderr)
        return 1
    return emit(report, args.json)
