"""What a server costs the machine, read from ``/proc``: the CPU time of a process tree (a server's processes and
every child they forked, gunicorn and Celery workers included), of the PostgreSQL backends serving one database,
and the load average the numbers were taken under (the machine is shared: a number without its load says little).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg2

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def load_average() -> float:
    """The 1-minute load average."""
    return os.getloadavg()[0]


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: fields after it follow the last ')'.
    return text[text.rindex(")") + 2:].split()


def _children() -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                found.setdefault(int(fields[1]), []).append(int(entry))
    return found


def process_tree(roots: Iterable[int]) -> list[int]:
    """``roots`` and all their live descendants."""
    children = _children()
    pending, seen = list(roots), []
    while pending:
        pid = pending.pop()
        if pid not in seen:
            seen.append(pid)
            pending.extend(children.get(pid, ()))
    return seen


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU of ``pids``, with what their exited (reaped) children used."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:  # fields[11:15]: utime, stime, cutime, cstime (proc(5), counted from field 3)
            total += sum(int(value) for value in fields[11:15])
    return total / CLOCK_TICKS


def postgres_backends(dbname: str) -> list[int]:
    """The PIDs of the PostgreSQL backends connected to ``dbname`` on 127.0.0.1:5432 right now."""
    connection = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (dbname,))
            return [int(row[0]) for row in cursor.fetchall()]
    finally:
        connection.close()


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds per PID at one moment: a later sample minus this one is what was spent in between (a PID new
    in the later sample counts from zero; one gone by then is lost, which pooled connections make rare)."""

    by_pid: dict[int, float]

    @staticmethod
    def take(pids: Iterable[int]) -> CpuSample:
        return CpuSample({pid: cpu_seconds([pid]) for pid in pids})

    def since(self, earlier: CpuSample) -> float:
        return sum(max(0.0, value - earlier.by_pid.get(pid, 0.0)) for pid, value in self.by_pid.items())
