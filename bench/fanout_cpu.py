"""CPU and SQL per woken ``/sync``, measured in process: what one message costs every long-poll it wakes.

  python -m bench.fanout_cpu --members 50 --messages 5 [--database DBNAME]

A monolith is built in this process (SQLite in a temporary directory by default, or the PostgreSQL database
named, on 127.0.0.1 as ``postgres``, which must exist and be empty) and spoken to through Flask's test client, so
no HTTP server, client or scheduler noise is in the numbers: only the server's own work. ``--members`` users
join one room and sync until settled; then, ``--messages`` times, every member long-polls (``/sync`` from its
last token, 30 s timeout, one thread each), and once all of them wait, one member sends a message. Reported per
woken sync: the process's CPU from the send until every poll answered (``time.process_time``: the send and every
woken sync, divided by the members, so compare runs made in one session) and the SQL statements in that span,
likewise divided; and the members' wake-up times, from the send request to each poll's answer (p50 and max per
message; the threads of one process share its GIL, as a gevent worker's greenlets share its core). Each member's
answer must carry exactly the message, or the run fails.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path
from statistics import median
from typing import Any

from sqlalchemy import event

from config import parse_config
from ganglion.wiring import build_monolith
from persistence import migrate
from persistence.signing_key import generate_key_file
from web.app import create_app
from web.sync.notifier import Waiter

CLIENT = "/_matrix/client/v3"
LIMIT = {"per_second": 100000, "burst_count": 100000}
MAX_MEMBERS = 2000
MAX_MESSAGES = 100
POLL_MS = 30_000
SETTLE_S = 30.0
SETTLE_ROUNDS = 2


def bench_config(directory: Path, database: str | None) -> Any:
    """A monolith config for in-process benchmarks: rate limits out of the way, bcrypt cheap."""
    key = directory / "signing.key"
    generate_key_file(str(key))
    db: dict[str, Any] = {"name": "sqlite3", "args": {"database": str(directory / "homeserver.db")}}
    if database:
        db = {"name": "psycopg2", "args": {"dbname": database, "user": "postgres", "host": "127.0.0.1"}}
    return parse_config({
        "server_name": "bench.local", "signing_key_path": str(key), "bcrypt_rounds": 4,
        "enable_registration": True, "enable_registration_without_verification": True,
        "media_store_path": str(directory / "media"), "database": db,
        "rc_registration": LIMIT, "rc_message": LIMIT, "rc_joins": {"local": LIMIT, "remote": LIMIT},
        "rc_room_creation": LIMIT, "rc_login": {"address": LIMIT, "account": LIMIT, "failed_attempts": LIMIT},
    })


def run(members: int, messages: int, database: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ganglion-fanout-") as tmp:
        config = bench_config(Path(tmp), database)
        monolith = build_monolith(config)
        deps = monolith.deps
        migrate.upgrade(deps.database)
        client = create_app(config, deps).test_client()

        def call(method: str, path: str, token: str, body: Any = None) -> dict[str, Any]:
            response = client.open(f"{CLIENT}{path}", method=method, json=body,
                                   headers={"Authorization": f"Bearer {token}"})
            if response.status_code != 200:
                raise SystemExit(f"{method} {path}: {response.status_code} {response.get_data(as_text=True)}")
            return response.json  # type: ignore[return-value]

        tokens = []
        tag = secrets.token_hex(3)
        for index in range(members):
            response = client.post(f"{CLIENT}/register", json={
                "username": f"fan{tag}_{index}", "password": "pw", "auth": {"type": "m.login.dummy"}})
            tokens.append(response.json["access_token"])  # type: ignore[index]
        room = call("POST", "/createRoom", tokens[0], {"preset": "public_chat"})["room_id"]
        for token in tokens[1:]:
            call("POST", f"/join/{room}", token, {})
        since = [call("GET", "/sync", token)["next_batch"] for token in tokens]
        for _ in range(SETTLE_ROUNDS):  # let presence and joins settle, so a long-poll's first look finds nothing
            since = [call("GET", f"/sync?since={since[index]}&timeout=0", token)["next_batch"]
                     for index, token in enumerate(tokens)]
        statements: list[int] = [0]
        blocked = [0]
        plain_wait = Waiter.wait

        def counted_wait(waiter: Waiter, timeout: float) -> bool:
            """A long-poll blocks here after its first look found nothing: what the bench waits for."""
            blocked[0] += 1
            return plain_wait(waiter, timeout)

        Waiter.wait = counted_wait  # type: ignore[method-assign]

        def count(*_: Any) -> None:
            statements[0] += 1

        event.listen(deps.database.engine, "before_cursor_execute", count)
        cpu_ms: list[float] = []
        queries: list[float] = []
        wake_p50: list[float] = []
        wake_max: list[float] = []
        for number in range(messages):
            text = f"message {number}"
            answers: list[dict[str, Any] | None] = [None] * members
            answered_at = [0.0] * members

            def poll(index: int, answers: list[dict[str, Any] | None] = answers,
                     answered_at: list[float] = answered_at) -> None:
                answers[index] = call("GET", f"/sync?since={since[index]}&timeout={POLL_MS}", tokens[index])
                answered_at[index] = time.monotonic()

            threads = [threading.Thread(target=poll, args=(index,)) for index in range(members)]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + SETTLE_S
            while blocked[0] < members:  # every poll has made its first look and waits
                if time.monotonic() > deadline:
                    raise SystemExit(f"only {blocked[0]} of the long-polls started waiting")
                time.sleep(0.01)
            blocked[0] = 0
            statements[0] = 0
            started, sent_at = time.process_time(), time.monotonic()
            call("PUT", f"/rooms/{room}/send/m.room.message/t{tag}{number}", tokens[number % members],
                 {"msgtype": "m.text", "body": text})
            for thread in threads:
                thread.join(POLL_MS / 1000 + SETTLE_S)
            cpu_ms.append((time.process_time() - started) * 1000 / members)
            queries.append(statements[0] / members)
            waits = sorted((at - sent_at) * 1000 for at in answered_at)
            wake_p50.append(waits[len(waits) // 2])
            wake_max.append(waits[-1])
            for index, body in enumerate(answers):
                events = body["rooms"]["join"][room]["timeline"]["events"] if body else []
                if [event["content"].get("body") for event in events] != [text]:
                    raise SystemExit(f"member {index} did not get exactly {text!r}: {events}")
                since[index] = body["next_batch"]  # type: ignore[index]
        event.remove(deps.database.engine, "before_cursor_execute", count)
        Waiter.wait = plain_wait  # type: ignore[method-assign]
        deps.database.dispose()
    return {"members": members, "messages": messages, "database": "postgresql" if database else "sqlite",
            "cpu_ms_per_woken_sync": [round(value, 2) for value in cpu_ms],
            "cpu_ms_per_woken_sync_median": round(median(cpu_ms), 2),
            "statements_per_woken_sync": [round(value, 2) for value in queries],
            "wake_ms_p50": [round(value) for value in wake_p50], "wake_ms_max": [round(value) for value in wake_max]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--database", help="an empty PostgreSQL database on 127.0.0.1 (its name); SQLite when omitted")
    args = parser.parse_args()
    if not 1 <= args.members <= MAX_MEMBERS or not 1 <= args.messages <= MAX_MESSAGES:
        parser.error(f"--members must be 1-{MAX_MEMBERS} and --messages 1-{MAX_MESSAGES}")
    print(json.dumps(run(args.members, args.messages, args.database), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
