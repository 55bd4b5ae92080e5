"""Federation throughput, Ganglion beside Synapse in one run: inbound ``/send`` and outbound fan-out.

  python -m bench.federation [--targets ganglion-sqlite,ganglion-postgres,ganglion-workers,synapse]
      [--pdus 1,10,50] [--transactions 20] [--destinations 1,5,20] [--messages 30] [--rounds 2]
      [--room-version 10] [--synapse-database sqlite|postgres] [--phase-cap 120] [--deadline 1800] [--json out.json]

Starts every server named (``bench/federation_targets.py``) and up to max(--destinations) scripted peers
(``bench/federation_peer.py``) on loopback, sets each server's rooms up (not measured), then runs the scenarios
of ``bench/federation_scenarios.py`` in rounds, one server at a time, the servers' order rotating each round so
none always goes first. Every loop is bounded: counts (``--transactions``, ``--messages``), a time cap per
phase (``--phase-cap``) and one for the whole run (``--deadline``: no phase starts after it). Prints one row per
scenario and server (the median over rounds, and each round's value with the load average it ran at) and the
ratio of each Ganglion shape to Synapse; ``--json`` keeps every measurement.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.federation_peer import BenchCa, JoinedRoom, ScriptedPeer, running_peers
from bench.federation_scenarios import LocalUser, Measurement, inbound, outbound
from bench.federation_targets import TARGETS, Target, start_target
from bench.harness import MAX_COUNT
from bench.procstat import load_average

MAX_PDUS = 50
"""The spec's limit of PDUs per transaction."""
MAX_DESTINATIONS = 50


@dataclass
class Prepared:
    """One server with its rooms set up: the inbound room a peer joined, and one room per destination count."""

    target: Target
    user: LocalUser
    inbound_room: JoinedRoom
    outbound_rooms: dict[int, str]


def _counts(text: str, limit: int, name: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or not all(1 <= value <= limit for value in values):
        raise argparse.ArgumentTypeError(f"--{name}: numbers from 1 to {limit}, comma-separated")
    return values


def prepare(target: Target, peers: list[ScriptedPeer], destinations: list[int], room_version: str) -> Prepared:
    for peer in peers:
        peer.connect(target.server_name, target.base_url)
    user = LocalUser(target)
    room_id = user.create_public_room(room_version)
    inbound_room = peers[0].join(target.server_name, room_id)
    rooms = {}
    for count in destinations:
        rooms[count] = user.create_public_room(room_version)
        for peer in peers[:count]:
            peer.join(target.server_name, rooms[count])
    return Prepared(target, user, inbound_room, rooms)


def one_round(prepared: Prepared, peers: list[ScriptedPeer], args: argparse.Namespace) -> list[Measurement]:
    found = []
    for pdus in args.pdus:
        found.append(inbound(prepared.target, prepared.user, peers[0], prepared.inbound_room, pdus,
                             args.transactions, args.phase_cap))
    for count in args.destinations:
        for paced in (True, False):
            found.append(outbound(prepared.target, prepared.user, prepared.outbound_rooms[count], peers[:count],
                                  args.messages, paced, args.phase_cap))
    return found


@contextmanager
def started(labels: list[str], directory: Path, ca: BenchCa, synapse_database: str) -> Iterator[list[Target]]:
    with ExitStack() as stack:
        targets = []
        for label in labels:
            print(f"starting {label}", file=sys.stderr, flush=True)
            target = start_target(label, directory / label, ca.ca_path, synapse_database)
            stack.callback(target.stop)
            targets.append(target)
        yield targets


def run(args: argparse.Namespace) -> dict[str, Any]:
    deadline = time.monotonic() + args.deadline
    measurements: list[Measurement] = []
    with tempfile.TemporaryDirectory(prefix="fedbench-") as tmp:
        ca = BenchCa.create(Path(tmp))
        with running_peers(max(args.destinations), ca) as peers, \
                started(args.targets, Path(tmp), ca, args.synapse_database) as targets:
            prepared = []
            for target in targets:
                print(f"setting up {target.label}", file=sys.stderr, flush=True)
                prepared.append(prepare(target, peers, args.destinations, args.room_version))
            for number in range(args.rounds):
                order = prepared[number % len(prepared):] + prepared[:number % len(prepared)]
                for item in order:
                    if time.monotonic() >= deadline:
                        break
                    print(f"round {number + 1}: {item.target.label} (load {load_average():.1f})", file=sys.stderr,
                          flush=True)
                    measurements += one_round(item, peers, args)
            for item in prepared:
                item.user.close()
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "arguments": {
        key: value for key, value in vars(args).items() if key != "json"},
        "measurements": [measurement.summary() for measurement in measurements]}


METRICS = (("per_s", "/s", True), ("p50_ms", "p50 ms", False), ("p95_ms", "p95 ms", False),
           ("cpu_ms_per", "CPU ms", False), ("cpu_ms_per_with_pg", "CPU+PG ms", False))


def table(report: dict[str, Any]) -> str:
    """Markdown: per scenario and metric, each server's median over rounds (every round's value and load in the
    JSON), and each Ganglion shape's ratio to Synapse."""
    rows = report["measurements"]
    scenarios = list(dict.fromkeys(row["scenario"] for row in rows))
    labels = [label for label in TARGETS if any(row["target"] == label for row in rows)]
    header = ["scenario", "metric", *labels, *(f"{label} / synapse" for label in labels
                                                if label != "synapse" and "synapse" in labels)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for scenario in scenarios:
        for key, name, _higher_is_better in METRICS:
            if key == "per_s" and scenario.endswith("paced"):
                continue  # paced sends wait for each delivery: their rate is the latency's inverse
            medians = {}
            for label in labels:
                values = [row[key] for row in rows if row["scenario"] == scenario and row["target"] == label
                          and row[key] is not None]
                medians[label] = statistics.median(values) if values else None
            if all(value is None for value in medians.values()):
                continue
            cells = [_cell(medians[label]) for label in labels]
            base = medians.get("synapse")
            ratios = [_cell(medians[label] / base if medians[label] is not None and base else None, ratio=True)
                      for label in labels if label != "synapse" and "synapse" in labels]
            lines.append("| " + " | ".join([scenario, name, *cells, *ratios]) + " |")
    loads = [row["load"] for row in rows]
    failed = sum(row["failed"] for row in rows)
    lines.append("")
    lines.append(f"load average (1 min) at phase starts: {min(loads):.1f}-{max(loads):.1f}; failed items: {failed}")
    for row in rows:
        for error in row["errors"]:
            lines.append(f"{row['target']} / {row['scenario']}: {error}")
    return "\n".join(lines)


def _cell(value: float | None, ratio: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if ratio or value < 10 else f"{value:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--pdus", default="1,10,50", help="PDUs per inbound transaction (1-50 each)")
    parser.add_argument("--transactions", type=int, default=20, help="inbound transactions per phase")
    parser.add_argument("--destinations", default="1,5,20", help="scripted destinations per outbound phase")
    parser.add_argument("--messages", type=int, default=30, help="sends per outbound phase")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--room-version", default="10", help="of every room (Synapse's default: 10)")
    parser.add_argument("--synapse-database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--phase-cap", type=float, default=120.0, help="seconds one phase may take")
    parser.add_argument("--deadline", type=float, default=1800.0, help="seconds after which no phase starts")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    try:
        args.pdus = _counts(args.pdus, MAX_PDUS, "pdus")
        args.destinations = _counts(args.destinations, MAX_DESTINATIONS, "destinations")
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    args.targets = [label for label in args.targets.split(",") if label]
    if not args.targets or any(label not in TARGETS for label in args.targets):
        parser.error(f"--targets: some of {', '.join(TARGETS)}")
    if not (1 <= args.transactions <= MAX_COUNT and 1 <= args.messages <= MAX_COUNT and 1 <= args.rounds <= 20
            and args.phase_cap > 0 and args.deadline > 0):
        parser.error(f"--transactions and --messages 1..{MAX_COUNT}, --rounds 1..20, caps positive")
    report = run(args)
    print(table(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 1 if any(row["failed"] for row in report["measurements"]) else 0


if __name__ == "__main__":
    sys.exit(main())
