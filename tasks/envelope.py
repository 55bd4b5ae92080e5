"""What travels between the web tier and a task, in both directions.

Going out, a task message may carry a MAC made with ``worker_replication_secret``: when the secret is set, a worker
runs only messages that prove they came from a Ganglion process, so write access to Redis alone cannot make a
writer act (the secret "guards anything that crosses between processes", as in Synapse). Coming back, a result is
an envelope ``{"ok": value}`` or ``{"error": wire}``, so expected failures travel as data (DESIGN.md guarantee 6).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from persistence.stream_ids import WriterFolded
from protocol.errors import MatrixError
from tasks.registry import TaskSpec

MAC_HEADER = "ganglion_mac"


def message_mac(secret: str, name: str, kwargs: dict[str, Any]) -> str:
    payload = json.dumps([name, kwargs], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(secret.encode("utf-8"), payload.encode("utf-8"), hashlib.sha256).hexdigest()


def signed_headers(secret: str | None, name: str, kwargs: dict[str, Any]) -> dict[str, str]:
    return {MAC_HEADER: message_mac(secret, name, kwargs)} if secret else {}


def is_authentic(secret: str | None, name: str, kwargs: dict[str, Any], mac: object) -> bool:
    if not secret:
        return True
    return isinstance(mac, str) and hmac.compare_digest(mac, message_mac(secret, name, kwargs))


def run_body(spec: TaskSpec, context: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Run a task body and wrap its outcome in the envelope both dispatchers agree on."""
    try:
        try:
            return {"ok": spec.body(context, **kwargs)}
        except WriterFolded as folded:
            # This instance writes a stream it was folded out of (added back, or running work forwarded to it):
            # announce it in a committed transaction of its own, as a new writer does, then run the body again;
            # its transaction was rolled back, and task bodies are idempotent (DESIGN.md guarantee 3).
            with context.database.write() as conn:
                context.stores.stream_ids.catch_up_writer(conn, folded.stream, folded.writer)
            return {"ok": spec.body(context, **kwargs)}
    except MatrixError as error:
        return {"error": error.to_wire()}


def unwrap(envelope: dict[str, Any]) -> Any:
    if "error" in envelope:
        raise MatrixError.from_wire(envelope["error"])
    return envelope["ok"]
