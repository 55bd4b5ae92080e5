"""``PUT /_matrix/federation/v1/send/{txnId}``: a transaction of PDUs and EDUs from another server.

Spec: Server-Server API, "Transactions" and "PUT /_matrix/federation/v1/send/{txnId}". A transaction holds at
most 50 PDUs and 100 EDUs (more is 400), comes from the server that signed the request (a body naming another
``origin`` is refused), and is answered once: the answer is recorded, and a retry of the same ``(origin, txnId)``
gets it again without anything being processed twice. One origin's transactions are handled one at a time in
each process (a sender waits for the answer before sending its next one, so only its retries can overlap, and
those meet the recorded answer or the writers' own idempotence).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from sqlalchemy.exc import IntegrityError

from protocol.errors import BadJson, Forbidden
from web.deps import Deps, deps
from web.federation.auth import server_authenticated
from web.federation.edus import receive_edus
from web.federation.pdu_reception import receive_pdus
from web.requests import json_body

MAX_PDUS = 50
MAX_EDUS = 100

_origin_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
"""One lock per origin in this process (gevent patches ``threading``, so waiting yields to other requests)."""


def _items(body: dict[str, Any], key: str, bound: int) -> list[Any]:
    value = body.get(key, [])
    if not isinstance(value, list):
        raise BadJson(f"'{key}' must be a list")
    if len(value) > bound:
        raise BadJson(f"A transaction holds at most {bound} {key.upper()}, not {len(value)}")
    return value


def _recorded(current: Deps, origin: str, txn_id: str) -> dict[str, Any] | None:
    with current.database.read() as conn:
        return current.stores.received_transactions.get_response(conn, origin, txn_id)


@server_authenticated
def send_transaction(txn_id: str, *, origin: str) -> dict[str, Any]:
    current = deps()
    body = json_body().data
    claimed = body.get("origin")
    if claimed is not None and claimed != origin:
        raise Forbidden("The transaction's origin is not the server that sent it")
    pdus = _items(body, "pdus", MAX_PDUS)
    edus = _items(body, "edus", MAX_EDUS)
    with _origin_locks[origin]:
        earlier = _recorded(current, origin, txn_id)
        if earlier is not None:
            return earlier
        response = {"pdus": receive_pdus(current, origin, pdus)}
        receive_edus(current, origin, edus)
        try:
            with current.database.write() as conn:
                current.stores.received_transactions.insert_response(conn, origin, txn_id, response,
                                                                     current.clock.now_ms())
        except IntegrityError:  # another process answered a retry of it first: that answer stands
            return _recorded(current, origin, txn_id) or response
    return response
