"""``ganglion worker NAME`` as processes: one Celery worker per pool of :func:`config.pools.plan_pools`.

With one pool the command is that Celery worker. With two, this module's :class:`Supervisor` starts one child per
pool and acts as the instance: SIGTERM/SIGINT reach every child (Celery's warm shutdown finishes running tasks),
and if one child dies the supervisor stops the other and exits with its status, so the process manager restarts
the instance whole. Children are in the supervisor's process group and get SIGKILL if it dies, so killing the
instance by PID or group never leaves an orphan consuming its queues.

The ordered pool runs only while it holds the instance's lease (``persistence.leases``): a second copy of the same
instance waits for it instead of consuming the same ordered queues beside the first.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from types import FrameType

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
STOP_GRACE_SECONDS = 30.0


def _die_with_parent() -> None:
    """In the child, before exec: the kernel sends SIGKILL when the supervisor exits, however it exits."""
    # Not Linux: no prctl, but the process group still lets a manager stop everything.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Supervisor:
    def __init__(self, commands: dict[str, Sequence[str]], env: dict[str, str] | None = None) -> None:
        self._commands = commands
        self._env = env
        self._children: dict[int, tuple[str, subprocess.Popen[bytes]]] = {}
        self._stopping = False

    def run(self, started: Callable[[], None] | None = None) -> int:
        """Start the children, then ``started`` (threads are safe only after the forks), then wait."""
        for name, argv in self._commands.items():
            popen = subprocess.Popen(list(argv), env=self._env, preexec_fn=_die_with_parent)
            self._children[popen.pid] = (name, popen)
            logger.info("started %s (pid %d)", name, popen.pid)
        if started is not None:
            started()
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            return self._wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._stopping = True
        self._signal_children(signal.SIGTERM)

    def _signal_children(self, signum: int) -> None:
        for _name, popen in self._children.values():
            if popen.poll() is None:
                popen.send_signal(signum)

    def _wait(self) -> int:
        status = 0
        deadline: float | None = None
        while any(popen.poll() is None for _name, popen in self._children.values()):
            for name, popen in self._children.values():
                code = popen.poll()
                if code is not None and not self._stopping:
                    logger.error("%s (pid %d) exited with %d: stopping the instance", name, popen.pid, code)
                    status = code or 1
                    self._stopping = True
                    self._signal_children(signal.SIGTERM)
            if self._stopping and deadline is None:
                deadline = time.monotonic() + STOP_GRACE_SECONDS
            if deadline is not None and time.monotonic() > deadline:
                self._signal_children(signal.SIGKILL)
            time.sleep(0.2)
        if not self._stopping:
            return status
        return status or max((popen.returncode or 0 for _n, popen in self._children.values()), default=0)
