"""Application services' delivery state: how far each appservice has been sent, and the transaction in flight.

Written only by the appservice queue's task (``tasks/appservices.py``), whose one consumer sends each
appservice its transactions in order; the claim keeps a second delivery (the monolith's threads, a redelivered
message) from sending beside it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from persistence.stores.pushers import decode_positions, encode_positions
from persistence.tables import appservice_states
from protocol.sync_tokens import WriterPositions

StreamPositions = dict[str, WriterPositions]


def _encode(positions: StreamPositions) -> str:
    return json.dumps({stream: json.loads(encode_positions(p)) for stream, p in sorted(positions.items())},
                      separators=(",", ":"))


def _decode(text: str) -> StreamPositions:
    return {stream: decode_positions(json.dumps(value)) for stream, value in json.loads(text).items()}


@dataclass(frozen=True)
class Pending:
    """A transaction written before it is sent: resent as it is, under its id, until acknowledged."""

    txn_id: int
    body: dict[str, Any]
    positions: StreamPositions


@dataclass(frozen=True)
class AppServiceState:
    appservice_id: str
    positions: StreamPositions
    last_txn_id: int
    pending: Pending | None
    failures: int


def _pending(row: Any) -> Pending | None:
    if row.pending_body is None:
        return None
    return Pending(int(row.last_txn_id), json.loads(row.pending_body), _decode(row.pending_positions))


class AppServiceStore:
    def claim(self, conn: Connection, appservice_id: str, start: StreamPositions, now_ms: int,
              claim_until_ts: int) -> AppServiceState | None:
        """Claim the appservice for one delivery unless another holds it or it is backing off. An appservice
        seen for the first time starts at ``start`` (it is sent what happens from now on). The row is locked
        until the transaction ends (PostgreSQL; SQLite has one writer anyway)."""
        row = conn.execute(select(appservice_states).where(appservice_states.c.appservice_id == appservice_id)
                           .with_for_update()).first()
        if row is None:
            conn.execute(insert(appservice_states).values(appservice_id=appservice_id, positions=_encode(start),
                                                          last_txn_id=0, claimed_until_ts=claim_until_ts))
            return AppServiceState(appservice_id, dict(start), 0, None, 0)
        if row.claimed_until_ts is not None and row.claimed_until_ts > now_ms:
            return None
        if row.retry_at_ts is not None and row.retry_at_ts > now_ms:
            return None
        conn.execute(update(appservice_states).where(appservice_states.c.appservice_id == appservice_id)
                     .values(claimed_until_ts=claim_until_ts))
        positions = _decode(row.positions)
        for stream, position in start.items():
            positions.setdefault(stream, position)  # a stream followed since this row was made starts now
        return AppServiceState(appservice_id, positions, int(row.last_txn_id), _pending(row), int(row.failures))

    def insert_missing(self, conn: Connection, appservice_ids: list[str], start: StreamPositions) -> list[str]:
        """Rows for appservices seen for the first time, starting at ``start``; answers their ids."""
        known = set(conn.execute(select(appservice_states.c.appservice_id)).scalars())
        new = [appservice_id for appservice_id in appservice_ids if appservice_id not in known]
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        for appservice_id in new:  # every process does this at start: the first one's row stands
            conn.execute(dialect.insert(appservice_states)
                         .values(appservice_id=appservice_id, positions=_encode(start), last_txn_id=0)
                         .on_conflict_do_nothing(index_elements=["appservice_id"]))
        return new

    def insert_pending(self, conn: Connection, appservice_id: str, pending: Pending) -> None:
        """Record the next transaction before sending it (its id is the appservice's next one)."""
        conn.execute(update(appservice_states).where(appservice_states.c.appservice_id == appservice_id)
                     .values(last_txn_id=pending.txn_id, pending_body=json.dumps(pending.body),
                             pending_positions=_encode(pending.positions)))

    def update_positions(self, conn: Connection, appservice_id: str, positions: StreamPositions) -> None:
        """Move past what was sent (or had nothing for the appservice): the transaction in flight is done, the
        claim released and any backoff cleared."""
        conn.execute(update(appservice_states).where(appservice_states.c.appservice_id == appservice_id)
                     .values(positions=_encode(positions), pending_body=None, pending_positions=None,
                             claimed_until_ts=None, retry_at_ts=None, failures=0))

    def update_backoff(self, conn: Connection, appservice_id: str, retry_at_ts: int, failures: int) -> None:
        conn.execute(update(appservice_states).where(appservice_states.c.appservice_id == appservice_id)
                     .values(claimed_until_ts=None, retry_at_ts=retry_at_ts, failures=failures))
