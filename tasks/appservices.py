"""Application service transactions (Application Service API, "Pushing events"), on the ``appservice`` queues
(``appservice_instances``, or its one-instance form ``notify_appservices_from_worker``): sharded by appservice
id, one ordered consumer per queue, so one appservice's deliveries run one at a time on one instance.

Each appservice with a ``url`` is sent the events it is interested in, in stream order, batched into
transactions. One delivery is:

1. **Claim** (a short transaction): the appservice's row is locked and, unless another delivery holds it or it
   is backing off, claimed for :data:`CLAIM_MS`. If a transaction is in flight (written but never
   acknowledged) it is the one to send again; otherwise the next events after the appservice's position, up to
   the events stream's committed positions, are read and filtered, and the interesting ones written down as the
   next transaction (``last_txn_id + 1``) with the position it reaches, before anything is sent.
2. **Send** ``PUT {url}/_matrix/app/v1/transactions/{txnId}`` outside any transaction.
3. **Record**: on a 2xx the position advances and the transaction is done; otherwise the appservice backs off
   (:func:`backoff_ms`) and the same transaction is sent again later, under the same id.

So an event is never lost (the position only moves past what was acknowledged, or what no appservice wanted)
and never doubled: a retry carries the transaction id the appservice already saw, which the spec has it
deduplicate. The periodic :data:`DELIVER_ALL` job (on the background queue, as it belongs to no one appservice)
pokes every appservice's delivery, which retries those whose backoff is over and picks up any lost poke; the
events writer pokes :data:`DELIVER` after each commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from appservice_client.client import put_transaction
from persistence.database import Database
from persistence.stores import Stores
from persistence.stores.appservices import AppServiceState, Pending, StreamPositions
from persistence.stores.events import StoredEvent
from protocol.appservices import AppService, AppServices
from protocol.sync_tokens import WriterPositions
from tasks.appservice_device_lists import DEVICE_LISTS_KEY, DEVICE_LISTS_STREAM, changed_device_lists, key_counts
from tasks.appservice_ephemeral import EPHEMERAL_STREAMS, TO_DEVICE_STREAM, ephemeral_events, to_device_messages
from tasks.context import TaskContext
from tasks.registry import TaskSpec

logger = logging.getLogger(__name__)

DELIVER = "appservice.deliver"
DELIVER_ALL = "appservice.deliver_all"
FAMILY = "appservice"
EVENTS_STREAM = "events"
STREAMS = (EVENTS_STREAM, *EPHEMERAL_STREAMS, DEVICE_LISTS_STREAM)
BATCH = 100
"""Events read per step; a transaction holds at most this many."""
CLAIM_MS = 120_000
"""How long one delivery may take (the transaction timeout, with room to spare) before another may retry it."""
MAX_BACKOFF_MS = 3_600_000
SCHEDULE_SECONDS = {DELIVER_ALL: 5.0}


def backoff_ms(failures: int) -> int:
    """Wait before retrying a failing appservice: 1 s, doubling per failure, at most an hour."""
    return int(min(MAX_BACKOFF_MS, 1000 * 2 ** min(max(failures - 1, 0), 22)))


def clamp(since: WriterPositions, until: WriterPositions, last: int) -> WriterPositions:
    """How far a reader moving from ``since`` towards ``until`` has got once it has read every row up to stream
    id ``last`` (rows come in stream-id order, so each writer is done up to ``last`` or its own ``until``)."""
    names = {*since.writers(), *until.writers()}
    floor = max(since.floor, min(until.floor, last))
    ahead = {name: max(since.position_of(name), min(until.position_of(name), last)) for name in names}
    return WriterPositions(floor, tuple(sorted((name, p) for name, p in ahead.items() if p > floor)))


@dataclass(frozen=True)
class Claimed:
    txn: Pending | None
    failures: int
    more: bool = False
    """Nothing to send, but the positions stopped short of the committed ones (a long stretch of ephemeral
    changes): the delivery goes on."""


def deliver(context: TaskContext, *, appservice_id: str) -> int:
    """Send the appservice every transaction it has pending; answers how many it acknowledged."""
    service = context.config.appservices.by_id(appservice_id)
    if service is None or service.url is None:
        return 0
    sent = 0
    while True:
        claimed = _claim(context, service)
        if claimed is None or (claimed.txn is None and not claimed.more):
            return sent
        if claimed.txn is None:
            continue
        delivered = put_transaction(service, claimed.txn.txn_id, claimed.txn.body,
                                    verify_tls=not context.config.insecure_outbound_tls)
        _record(context, service, claimed, delivered)
        if not delivered:
            return sent
        sent += 1


def deliver_all(context: TaskContext) -> int:
    """The periodic retry, and what a lost poke waits for: poke every appservice's delivery on its own shard
    (running them here would put one appservice's deliveries on two instances); answers how many."""
    return poke_appservices(context)


def poke_appservices(context: TaskContext) -> int:
    """After an events transaction commits: have each appservice's delivery run; answers how many were poked. A
    lost poke only delays (the periodic job pokes them all)."""
    poked = 0
    for service in context.config.appservices:
        if service.url is not None:
            context.dispatcher.send(DELIVER, appservice_id=service.id)
            poked += 1
    return poked


def start_new_appservices(database: Database, stores: Stores, appservices: AppServices) -> list[str]:
    """At start, before anything is served: an appservice registered for the first time is sent what happens
    from now on (not the server's history); answers the new ones' ids."""
    if not appservices:
        return []
    with database.write() as conn:
        return stores.appservices.insert_missing(conn, [service.id for service in appservices],
                                                 _committed(stores, conn))


def _committed(stores: Stores, conn: Connection) -> StreamPositions:
    positions = stores.stream_ids.get_all_positions(conn, STREAMS)
    return {stream: WriterPositions.of_writers(positions.get(stream, {})) for stream in STREAMS}


def _claim(context: TaskContext, service: AppService) -> Claimed | None:
    stores = context.stores
    now = context.clock.now_ms()
    with context.database.write() as conn:
        committed = _committed(stores, conn)
        state = stores.appservices.claim(conn, service.id, committed, now, now + CLAIM_MS)
        if state is None:
            return None
        if state.pending is not None:
            return Claimed(state.pending, state.failures)
        txn, reached = _next_transaction(context, conn, service, state, committed)
        if txn is None:
            stores.appservices.update_positions(conn, service.id, reached)
            return Claimed(None, state.failures, more=reached != committed)
        stores.appservices.insert_pending(conn, service.id, txn)
    return Claimed(txn, state.failures)


def _next_transaction(context: TaskContext, conn: Connection, service: AppService, state: AppServiceState,
                      committed: StreamPositions) -> tuple[Pending | None, StreamPositions]:
    """The next transaction for the appservice (None when nothing up to ``committed`` is for it), and the
    positions it reaches."""
    positions = state.positions
    events, events_reached = _next_events(context, conn, service, positions[EVENTS_STREAM],
                                          committed[EVENTS_STREAM])
    ephemeral: list[dict[str, Any]] = []
    to_device: list[dict[str, Any]] = []
    ephemeral_reached = {stream: committed[stream] for stream in EPHEMERAL_STREAMS}
    if service.receive_ephemeral:
        ephemeral, found_reached = ephemeral_events(context.stores, conn, service, positions, committed,
                                                    context.clock.now_ms(), clamp)
        to_device, ephemeral_reached[TO_DEVICE_STREAM] = to_device_messages(context.stores, conn, service,
                                                                            positions, committed, clamp)
        ephemeral_reached.update(found_reached)
    changed: list[str] = []
    changed_reached = committed[DEVICE_LISTS_STREAM]
    if service.msc3202:
        changed, changed_reached = changed_device_lists(context.stores, conn, service,
                                                        positions[DEVICE_LISTS_STREAM], changed_reached, clamp)
    reached = {**positions, EVENTS_STREAM: events_reached, **ephemeral_reached, DEVICE_LISTS_STREAM: changed_reached}
    if not events and not ephemeral and not to_device and not changed:
        return None, reached
    body: dict[str, Any] = {"events": [_client_event(stored) for stored in events]}
    if ephemeral:
        # The spec's key and MSC2409's unstable one, which bridges written against Synapse read.
        body["ephemeral"] = ephemeral
        body["de.sorunome.msc2409.ephemeral"] = ephemeral
    if to_device:
        body["de.sorunome.msc2409.to_device"] = to_device  # MSC4203's key, as Synapse sends it
    if service.msc3202:
        if changed:
            body[DEVICE_LISTS_KEY] = {"changed": changed, "left": []}
        body.update(key_counts(context.stores, conn, service, body["events"], ephemeral, to_device))
    return Pending(state.last_txn_id + 1, body, reached), reached


def _next_events(context: TaskContext, conn: Connection, service: AppService, since: WriterPositions,
                 until: WriterPositions) -> tuple[list[StoredEvent], WriterPositions]:
    """The next events for the appservice after ``since`` (at most a batch), and how far they reach."""
    while True:
        found = context.stores.events.list_events_between(conn, since, until, BATCH)
        reached = until if len(found) < BATCH else clamp(since, until, found[-1].stream_ordering)
        wanted = _interesting(context, conn, service, found)
        if wanted or len(found) < BATCH:
            return wanted, reached
        since = reached


def _interesting(context: TaskContext, conn: Connection, service: AppService,
                 found: Iterable[StoredEvent]) -> list[StoredEvent]:
    aliases: dict[str, list[str]] = {}
    members: dict[str, list[str]] = {}
    wanted = []
    for stored in found:
        room_id = stored.room_id
        if room_id not in aliases:
            aliases[room_id] = context.stores.aliases.list_aliases(conn, room_id)
            members[room_id] = list(context.stores.state.list_members(conn, room_id, "join"))
        if service.is_interested_in_event(stored.event.pdu, room_id, aliases[room_id], members[room_id]):
            wanted.append(stored)
    return wanted


def _client_event(stored: StoredEvent) -> dict[str, Any]:
    """The client format of the event (Client-Server API, "Room event format"), as transactions carry it."""
    event = stored.event
    body: dict[str, Any] = {"content": dict(event.content), "event_id": event.event_id,
                            "origin_server_ts": event.origin_server_ts, "room_id": stored.room_id,
                            "sender": event.sender, "type": event.type}
    if event.state_key is not None:
        body["state_key"] = event.state_key
    if event.redacts is not None and event.type == "m.room.redaction":
        body["redacts"] = event.redacts
    return body


def _record(context: TaskContext, service: AppService, claimed: Claimed, delivered: bool) -> None:
    txn = claimed.txn
    assert txn is not None
    with context.database.write() as conn:
        if delivered:
            context.stores.appservices.update_positions(conn, service.id, txn.positions)
        else:
            failures = claimed.failures + 1
            context.stores.appservices.update_backoff(conn, service.id,
                                                      context.clock.now_ms() + backoff_ms(failures), failures)


TASKS = (
    TaskSpec(DELIVER, family=FAMILY, body=deliver, shard_param="appservice_id"),
    TaskSpec(DELIVER_ALL, family="background", body=deliver_all),
)
