"""What travels between the web tier and a task, in both directions.

Going out, every task message carries a :class:`Stamp`: its task id (fixed when it is enqueued, kept by
redeliveries, retries and forwards), the time it was issued and, when a caller waits for it, the time by which
that caller stops waiting. With ``worker_replication_secret`` set, a MAC over the task name, the stamp and the
arguments proves the message came from a Ganglion process, so write access to Redis alone cannot make a writer
act: a forged message fails the MAC, an edited stamp fails it too, and a genuine message captured and pushed back
later is either older than the replay window or names a task id the ledger already holds (``tasks/ledger.py``).
During a rotation the previous secret is accepted as well (``worker_replication_previous_secret``).

Coming back, a result is an envelope ``{"ok": value}`` or ``{"error": wire}``, so expected failures travel as data
(DESIGN.md guarantee 6).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from protocol.errors import MatrixError

MAC_HEADER = "ganglion_mac"
ISSUED_HEADER = "ganglion_issued"
ANSWER_BY_HEADER = "ganglion_answer_by"


def now_ms() -> int:
    """Wall-clock milliseconds: stamps are compared across machines, so never a monotonic clock."""
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Stamp:
    task_id: str
    issued_ms: int
    answer_by_ms: int = 0
    """When the caller waiting for the result gives up (0: nobody waits). Past it the task must not take effect:
    the caller has answered the client 503, and the client's retry is another task."""

    @staticmethod
    def new(wait_seconds: float | None = None, *, at_ms: int | None = None) -> Stamp:
        issued = now_ms() if at_ms is None else at_ms
        answer_by = issued + int(wait_seconds * 1000) if wait_seconds is not None else 0
        return Stamp(str(uuid.uuid4()), issued, answer_by)

    @staticmethod
    def read(task_id: str, header: Callable[[str], Any]) -> Stamp:
        """The stamp of a received message (0 for a header it lacks: such a message fails the MAC if a secret is
        set, and without one it is taken as issued now)."""
        return Stamp(task_id, _int(header(ISSUED_HEADER)), _int(header(ANSWER_BY_HEADER)))


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def message_mac(secret: str, name: str, kwargs: dict[str, Any], stamp: Stamp) -> str:
    payload = json.dumps([name, stamp.task_id, stamp.issued_ms, stamp.answer_by_ms, kwargs], sort_keys=True,
                         separators=(",", ":"), ensure_ascii=False)
    return hmac.new(secret.encode("utf-8"), payload.encode("utf-8"), hashlib.sha256).hexdigest()


def signed_headers(secret: str | None, name: str, kwargs: dict[str, Any], stamp: Stamp) -> dict[str, Any]:
    headers: dict[str, Any] = {ISSUED_HEADER: stamp.issued_ms, ANSWER_BY_HEADER: stamp.answer_by_ms}
    if secret:
        headers[MAC_HEADER] = message_mac(secret, name, kwargs, stamp)
    return headers


def signed_options(secret: str | None, name: str, kwargs: dict[str, Any],
                   wait_seconds: float | None = None) -> dict[str, Any]:
    """``send_task`` options for a new message: its task id and its signed stamp."""
    stamp = Stamp.new(wait_seconds)
    return {"task_id": stamp.task_id, "headers": signed_headers(secret, name, kwargs, stamp)}


def is_authentic(secrets: Sequence[str], name: str, kwargs: dict[str, Any], stamp: Stamp, mac: object) -> bool:
    """Whether the message is signed with one of ``secrets`` (the current one and, during a rotation, the previous
    one); with no secret configured every message is."""
    if not secrets:
        return True
    return isinstance(mac, str) and any(
        hmac.compare_digest(mac, message_mac(secret, name, kwargs, stamp)) for secret in secrets)


def unwrap(envelope: dict[str, Any]) -> Any:
    if "error" in envelope:
        raise MatrixError.from_wire(envelope["error"])
    return envelope["ok"]
