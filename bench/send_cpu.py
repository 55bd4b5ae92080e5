"""The send path measured in process: CPU, SQL statements and throughput per sent message, on either database.

  python -m bench.send_cpu --messages 200 [--database DBNAME]

A monolith is built in this process as in ``bench.fanout_cpu`` (SQLite in a temporary directory, or the empty
PostgreSQL database named) and spoken to through Flask's test client: what is measured is the server's own work
for ``PUT /rooms/{roomId}/send``, from the request to its answer, with the events writer inline. Two phases:
``sequential`` (one user, one room, one send after another) and ``10x10`` (10 users, each in its own thread,
sending round-robin into 10 rooms they all joined). Reported per phase: sends per second of wall time, CPU per
send (``time.process_time`` of this process; PostgreSQL's own backends are not in it) and statements per send.
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
from typing import Any

from sqlalchemy import event

from bench.fanout_cpu import bench_config
from ganglion.wiring import build_monolith
from persistence import migrate
from web.app import create_app

CLIENT = "/_matrix/client/v3"
USERS = 10
ROOMS = 10
MAX_MESSAGES = 5000


def run(messages: int, database: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ganglion-send-") as tmp:
        config = bench_config(Path(tmp), database)
        deps = build_monolith(config).deps
        migrate.upgrade(deps.database)
        app = create_app(config, deps)

        def call(method: str, path: str, token: str, body: Any = None) -> dict[str, Any]:
            response = app.test_client().open(f"{CLIENT}{path}", method=method, json=body,
                                              headers={"Authorization": f"Bearer {token}"})
            if response.status_code != 200:
                raise SystemExit(f"{method} {path}: {response.status_code} {response.get_data(as_text=True)}")
            return response.json  # type: ignore[return-value]

        tag = secrets.token_hex(3)
        tokens = [app.test_client().post(f"{CLIENT}/register", json={
            "username": f"send{tag}_{index}", "password": "pw", "auth": {"type": "m.login.dummy"}},
        ).json["access_token"] for index in range(USERS)]  # type: ignore[index]
        rooms = [call("POST", "/createRoom", tokens[0], {"preset": "public_chat"})["room_id"] for _ in range(ROOMS)]
        for token in tokens[1:]:
            for room in rooms:
                call("POST", f"/join/{room}", token, {})
        statements = [0]

        def count(*_: Any) -> None:
            statements[0] += 1

        def send(user: int, room: str, number: int) -> None:
            call("PUT", f"/rooms/{room}/send/m.room.message/{tag}.{user}.{number}", tokens[user],
                 {"msgtype": "m.text", "body": f"message {number}"})

        def phase(name: str, work: Any, sends: int) -> dict[str, Any]:
            statements[0] = 0
            wall, cpu = time.monotonic(), time.process_time()
            work()
            wall, cpu = time.monotonic() - wall, time.process_time() - cpu
            return {"phase": name, "sends": sends, "sends_per_s": round(sends / wall, 1),
                    "cpu_ms_per_send": round(cpu * 1000 / sends, 2), "statements_per_send": round(
                        statements[0] / sends, 1)}

        def sequential() -> None:
            for number in range(messages):
                send(0, rooms[0], number)

        per_user = max(messages // USERS, 1)

        def concurrent() -> None:
            def one_user(user: int) -> None:
                for number in range(per_user):
                    send(user, rooms[(user + number) % ROOMS], 100_000 + number)

            threads = [threading.Thread(target=one_user, args=(user,)) for user in range(USERS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        event.listen(deps.database.engine, "before_cursor_execute", count)
        results = [phase("sequential", sequential, messages), phase("10x10", concurrent, per_user * USERS)]
        event.remove(deps.database.engine, "before_cursor_execute", count)
        deps.database.dispose()
    return {"database": "postgresql" if database else "sqlite", "phases": results}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--database", help="an empty PostgreSQL database on 127.0.0.1 (its name); SQLite when omitted")
    args = parser.parse_args()
    if not 1 <= args.messages <= MAX_MESSAGES:
        parser.error(f"--messages must be 1-{MAX_MESSAGES}")
    print(json.dumps(run(args.messages, args.database), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
