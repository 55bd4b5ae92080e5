"""Transactions received from other servers and the answer each got (``PUT /send/{txnId}`` is idempotent)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from persistence.tables import received_transactions


class ReceivedTransactionStore:
    def get_response(self, conn: Connection, origin: str, transaction_id: str) -> dict[str, Any] | None:
        text = conn.execute(select(received_transactions.c.response_json).where(
            received_transactions.c.origin == origin,
            received_transactions.c.transaction_id == transaction_id)).scalar_one_or_none()
        return None if text is None else dict(json.loads(text))

    def insert_response(self, conn: Connection, origin: str, transaction_id: str, response: dict[str, Any],
                        now_ms: int) -> bool:
        """Record the answer to a transaction; False when one was recorded already (a concurrent retry won)."""
        if self.get_response(conn, origin, transaction_id) is not None:
            return False
        conn.execute(insert(received_transactions).values(
            origin=origin, transaction_id=transaction_id, response_json=json.dumps(response), received_ts=now_ms))
        return True

    def delete_before(self, conn: Connection, before_ms: int) -> int:
        """Forget answers older than ``before_ms``: a sender retries a transaction for hours, not weeks."""
        return conn.execute(delete(received_transactions)
                            .where(received_transactions.c.received_ts < before_ms)).rowcount or 0
