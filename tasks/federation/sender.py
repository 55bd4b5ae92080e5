"""The per-destination sender (Server-Server API, "Transactions"): ``PUT /_matrix/federation/v1/send/{txnId}``.

Runs on the federation queues sharded by destination (``federation_sender_instances``; the main process unless
``send_federation: false``). One transaction is in flight per destination at a time, in three steps, as the pusher
task does (``tasks/pushers.py``):

1. **Claim** (a short transaction under the destination's lock): unless it is backing off or another sender holds
   it, the destination is claimed for :func:`claim_ms`, and its transaction in flight is read, or a new one is fixed
   from what it is owed: during catch-up the latest events of the rooms it missed, else up to :data:`MAX_PDUS` PDUs
   and :data:`MAX_EDUS` EDUs from its queue, oldest first. A new transaction's id and body are stored before it is
   first sent.
2. **Send** it, outside any transaction.
3. **Record**: acknowledged, its queue rows go, the backoff resets and, in the same transaction, the next
   transaction is fixed, stored and claimed as in step 1 (then sent: step 2), so a busy destination costs one
   write transaction per transaction; failed, the destination backs off (``federation.destination_*_retry_*``)
   and starts catching up; refused outright (a 4xx other than 429), the transaction is dropped, as Synapse drops
   it, and the destination is not held to be down.

So a transaction id only ever carries one body: a message delivered again finds its task id in the ledger (the
claim recorded it) and does nothing; a sender that died between steps 2 and 3 leaves its claim to run out, and the
sweep (:func:`sweep_destinations`) pokes the destination, whose next sender sends the stored transaction again,
which the destination deduplicates by its id (at-least-once is all HTTP allows there).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from federation_client.client import path_segment
from federation_client.errors import FederationError, RemoteError
from persistence.stores.federation_sending import EDU, PDU, DestinationState, InFlight
from protocol.identifiers import server_of
from tasks.api import DESTINATION_UP
from tasks.context import TaskContext
from tasks.federation.fan_out import EPHEMERAL_EDUS, FAMILY, SEND_TO_DESTINATION
from tasks.registry import TaskSpec

logger = logging.getLogger(__name__)

MAX_PDUS = 50
MAX_EDUS = 100
SWEEP_BATCH = 1000


def claim_ms(context: TaskContext) -> int:
    """How long one send may take before the sweep may hand the destination to another sender: two request
    timeouts (a second address may be tried) and some room."""
    return 2 * context.config.federation.client_timeout_ms + 10_000


def next_retry_interval_ms(context: TaskContext, state: DestinationState) -> int:
    """Synapse's destination backoff: the minimum first, multiplied on each further failure, capped."""
    config = context.config.federation
    if state.retry_interval_ms <= 0:
        return config.destination_min_retry_interval_ms
    return int(min(config.destination_max_retry_interval_ms,
                   state.retry_interval_ms * config.destination_retry_multiplier))


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    """The destination acknowledged the transaction, or refused it for good: either way it is done."""
    failed: bool
    """The destination could not be reached or failed (5xx, 429): back off and catch up later."""


def send_to_destination(context: TaskContext, *, destination: str) -> int:
    """Send ``destination`` what it is owed, one transaction at a time; answers how many were delivered."""
    delivered = 0
    txn = _claim(context, destination)
    while txn is not None:
        outcome = _send(context, destination, txn)
        txn = _record(context, destination, txn, outcome)
        if outcome.failed:
            break
        delivered += 1
    return delivered


def _claim(context: TaskContext, destination: str) -> InFlight | None:
    store = context.stores.federation_sending
    now = context.clock.now_ms()
    with context.database.write() as conn:
        state = store.lock_destination(conn, destination)
        if state.backing_off(now) or (state.claimed_until_ts is not None and state.claimed_until_ts > now):
            return None
        txn = store.get_transaction(conn, destination)
        changes: dict[str, Any] = {}
        if txn is None:
            txn, changes = _new_transaction(context, conn, state, now)
        if txn is not None:
            changes["claimed_until_ts"] = now + claim_ms(context)
        if changes:  # the destination's row is updated once per claim, whatever changed
            store.update_destination(conn, destination, **changes)
    return txn


def _new_transaction(context: TaskContext, conn: Connection, state: DestinationState, now: int,
                     ) -> tuple[InFlight | None, dict[str, Any]]:
    """Fix and store the next transaction for the destination (None: nothing to send); answers it with the changes
    its row needs (the next transaction number, the end of catch-up), which the caller writes in its one update."""
    store = context.stores.federation_sending
    destination = state.destination
    pdus: list[dict[str, Any]] = []
    queue_ids: list[int] = []
    catch_up: list[tuple[str, int]] = []
    changes: dict[str, Any] = {}
    if state.catching_up:
        pdus, catch_up = _catch_up_pdus(context, conn, destination)
        if not catch_up:
            changes["catching_up"] = False
    if not catch_up:
        queued = store.list_queued(conn, destination, PDU, MAX_PDUS)
        found = context.stores.events.get_events(conn, [item.event_id for item in queued if item.event_id])
        # Fan-outs of one room run one at a time, but may commit out of order with another room's: within a
        # room, depth order is the DAG's order for our own (linear) events.
        present = sorted((item for item in queued if item.event_id in found),
                         key=lambda item: (item.room_id or "", found[item.event_id or ""].event.depth, item.id))
        pdus = [dict(found[item.event_id or ""].event.pdu) for item in present]
        queue_ids = [item.id for item in queued]
    edus = store.list_queued(conn, destination, EDU, MAX_EDUS)
    queue_ids += [item.id for item in edus]
    if not pdus and not edus:
        store.delete_queued(conn, queue_ids)  # PDUs of events that are gone: nothing left to send
        return None, changes
    body = {"origin": context.config.server_name, "origin_server_ts": now, "pdus": pdus,
            "edus": [item.edu for item in edus]}
    txn = InFlight(f"{now}.{state.next_txn}", body, tuple(queue_ids), tuple(catch_up))
    store.insert_transaction(conn, destination, txn, now)
    changes["next_txn"] = state.next_txn + 1
    return txn, changes


def _catch_up_pdus(context: TaskContext, conn: Connection, destination: str,
                   ) -> tuple[list[dict[str, Any]], list[tuple[str, int]]]:
    """For each room the destination missed events in: our forward extremities there (the latest events, whose
    prev events it can fetch), else the latest event it was due, at most :data:`MAX_PDUS` in all."""
    stores = context.stores
    ours = context.config.server_name
    pdus: list[dict[str, Any]] = []
    rooms: list[tuple[str, int]] = []
    for room in stores.federation_sending.list_catch_up_rooms(conn, destination, MAX_PDUS):
        extremities = stores.events.get_events(conn, stores.events.list_forward_extremities(conn, room.room_id))
        latest = [stored for stored in extremities.values() if server_of(stored.event.sender) == ours][:MAX_PDUS]
        if not latest:
            due = stores.events.get_event(conn, room.event_id)
            latest = [due] if due is not None else []
        if pdus and len(pdus) + len(latest) > MAX_PDUS:
            break
        pdus.extend(dict(stored.event.pdu) for stored in latest)
        rooms.append((room.room_id, room.stream_ordering))
    return pdus, rooms


def _send(context: TaskContext, destination: str, txn: InFlight) -> Outcome:
    client = context.federation_client
    if client is None:
        raise RuntimeError("this process was built without a federation client")
    path = f"/_matrix/federation/v1/send/{path_segment(txn.txn_id)}"
    try:
        answer = client.put_json(destination, path, txn.body)
    except RemoteError as error:
        if error.status in (408, 429) or error.status >= 500:
            logger.info("%s failed transaction %s: %s", destination, txn.txn_id, error)
            return Outcome(delivered=False, failed=True)
        logger.warning("%s refused transaction %s: %s; dropping it", destination, txn.txn_id, error)
        return Outcome(delivered=True, failed=False)
    except FederationError as error:
        logger.info("could not send transaction %s to %s: %s", txn.txn_id, destination, error)
        return Outcome(delivered=False, failed=True)
    _log_pdu_errors(destination, answer)
    return Outcome(delivered=True, failed=False)


def _log_pdu_errors(destination: str, answer: Any) -> None:
    """Per-PDU errors are the destination's verdict on those events; nothing to retry (spec: "Transactions")."""
    results = answer.get("pdus") if isinstance(answer, dict) else None
    for event_id, result in (results.items() if isinstance(results, dict) else ()):
        if isinstance(result, dict) and result.get("error"):
            logger.info("%s rejected %s: %s", destination, event_id, result["error"])


def _record(context: TaskContext, destination: str, txn: InFlight, outcome: Outcome) -> InFlight | None:
    """Record how the destination answered ``txn``; once it is done with it, the next transaction is fixed and
    claimed in the same write transaction (one per transaction sent, and none that only finds the queue empty).
    Answers that next transaction, stored before it is first sent, or None when there is nothing more to send now."""
    store = context.stores.federation_sending
    now = context.clock.now_ms()
    with context.database.write() as conn:
        state = store.lock_destination(conn, destination)
        if outcome.delivered:
            store.delete_queued(conn, txn.queue_ids)
            store.clear_catch_up(conn, destination, txn.catch_up)
            store.delete_transaction(conn, destination)
            following, changes = _new_transaction(context, conn, state, now)
            claimed_until = now + claim_ms(context) if following is not None else None
            store.update_destination(conn, destination, claimed_until_ts=claimed_until, retry_at_ts=None,
                                     retry_interval_ms=0, failures=0, last_success_ts=now, **changes)
            return following
        interval = next_retry_interval_ms(context, state)
        # Down: stop queueing for it. What it missed is the latest event of each room (catch-up), not every event.
        missed = store.delete_pdus_except(conn, destination, txn.queue_ids)
        store.mark_catch_up(conn, destination, missed)
        store.delete_edus_of_types(conn, destination, EPHEMERAL_EDUS, txn.queue_ids)
        store.update_destination(conn, destination, claimed_until_ts=None, retry_at_ts=now + interval,
                                 retry_interval_ms=interval, failures=state.failures + 1, catching_up=True)
    return None


def sweep_destinations(context: TaskContext) -> int:
    """Poke every destination with something to send whose backoff is over, or whose sender died holding its
    claim; answers how many. Beat runs it (``background.sweep_destinations``): it is what retries a destination
    once its backoff runs out."""
    with context.database.read() as conn:
        due = context.stores.federation_sending.list_due_destinations(conn, context.clock.now_ms(), SWEEP_BATCH)
    for destination in due:
        context.dispatcher.send(SEND_TO_DESTINATION, destination=destination)
    return len(due)


def destination_up(context: TaskContext, *, destination: str) -> bool:
    """``destination`` just reached us (an authenticated request): it is up, so its backoff ends now and what
    it missed is sent (Synapse does the same). Answers whether it was backing off."""
    store = context.stores.federation_sending
    with context.database.write() as conn:
        state = store.get_destination(conn, destination)
        if state is None or state.retry_at_ts is None:
            return False
        store.lock_destination(conn, destination)
        store.update_destination(conn, destination, retry_at_ts=None, retry_interval_ms=0, failures=0)
    context.dispatcher.send(SEND_TO_DESTINATION, destination=destination)
    return True


TASKS = (
    TaskSpec(SEND_TO_DESTINATION, family=FAMILY, body=send_to_destination, shard_param="destination"),
    TaskSpec(DESTINATION_UP, family=FAMILY, body=destination_up, shard_param="destination"),
)
