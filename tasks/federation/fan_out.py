"""Putting outbound PDUs and EDUs on the queues of the destinations that should get them.

Runs on the federation queues (sharded by room id or destination), after the change that needs sending has
committed: the events writer pokes :data:`QUEUE_PDUS` with the events it appended (:func:`poke_federation`), the
typing, receipts and presence writers and the web tier's ``sendToDevice`` queue EDUs with :data:`QUEUE_EDU`. Each
destination's rows are written under its lock, then its sender is poked (``tasks/federation/sender.py``).

A destination that is backing off after failures does not queue PDUs: it is *catching up*, and only the latest
event it is owed per room is remembered (``federation_destination_rooms``), as Synapse's catch-up does; the other
servers fill the gaps with ``/get_missing_events``. Ephemeral EDUs (typing, presence, receipts) for it are dropped,
as they would be stale by the time it answers; to-device messages are kept until delivered.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from persistence.locks import lock_room_on_stream
from protocol.events.model import Event
from protocol.identifiers import server_of
from tasks.api import QUEUE_EDU
from tasks.context import TaskContext
from tasks.federation.destinations import allowed, federation_enabled, room_destinations
from tasks.registry import TaskSpec
from tasks.remote_device_lists import TRACK_ROOM_MEMBERS

FAMILY = "federation"
QUEUE_PDUS = "federation.queue_pdus"
SEND_TO_DESTINATION = "federation.send_to_destination"
SHARE_PRESENCE = "federation.share_presence"
EPHEMERAL_EDUS = frozenset({"m.typing", "m.presence", "m.receipt"})
"""EDUs worth nothing to a server once it comes back: not kept for a destination that is backing off."""


def _removed_server(event: Event) -> str:
    """The server of a user this event kicks or bans, who is no longer joined but must hear of it ("" if none).
    An invite is not sent this way: it goes to the invitee's server through ``/invite``, before it is stored."""
    if event.type == "m.room.member" and event.membership in ("leave", "ban") and event.state_key \
            and event.state_key != event.sender:
        return server_of(event.state_key)
    return ""


def poke_federation(context: TaskContext, room_id: str, events: Iterable[Event], on_behalf_of: str | None = None,
                    ) -> None:
    """After an events transaction commits: have the room's new events queued for the other servers in it (none
    in a room only we are in: no poke), presence shared with whoever just joined, and remote device lists tracked
    or forgotten as members come and go (``tasks/remote_device_lists.py``). ``on_behalf_of``: the server
    whose membership event we accepted in a handshake (``send_join``/``send_leave``/``send_knock``): as the
    resident it talked to, we pass it on to the room's other servers, as Synapse does. A lost poke delays one event
    until the room's next one, which names it as a prev event (``/get_missing_events``)."""
    if not federation_enabled(context):
        return
    events = list(events)
    ours = context.config.server_name
    wanted = [event for event in events if server_of(event.sender) in (ours, on_behalf_of)]
    joined = list(dict.fromkeys(event.state_key for event in events
                                if event.type == "m.room.member" and event.membership == "join" and event.state_key))
    targets = allowed(context, (_removed_server(event) for event in wanted))
    elsewhere = any(target != on_behalf_of for target in targets)
    if not elsewhere and (wanted or any(server_of(user_id) == ours for user_id in joined)):
        with context.database.read() as conn:
            if on_behalf_of is None:  # usually no one else is there: one probe, not the member list
                elsewhere = context.stores.federation_sending.has_remote_members(conn, room_id, ours)
            else:
                elsewhere = any(server != on_behalf_of for server in room_destinations(context, conn, room_id))
    left = list(dict.fromkeys(event.state_key for event in events if event.type == "m.room.member"
                              and event.membership in ("leave", "ban") and event.state_key))
    if (joined or left) and (elsewhere or any(server_of(user_id) != ours for user_id in (*joined, *left))):
        context.dispatcher.send(TRACK_ROOM_MEMBERS, room_id=room_id, joined=joined, left=left)
    for user_id in joined:
        if server_of(user_id) != ours or elsewhere:  # a local join only matters to a room with other servers
            context.dispatcher.send(SHARE_PRESENCE, room_id=room_id, user_id=user_id)
    if wanted and elsewhere:
        extra = {"on_behalf_of": on_behalf_of} if on_behalf_of else {}
        context.dispatcher.send(QUEUE_PDUS, room_id=room_id, event_ids=[event.event_id for event in wanted], **extra)


def queue_pdus(context: TaskContext, *, room_id: str, event_ids: list[str], on_behalf_of: str | None = None) -> int:
    """Queue our own events among ``event_ids`` (and ``on_behalf_of``'s) for every other server joined to the
    room (and the server of a member it kicks or bans, which must hear of it), never back to
    ``on_behalf_of``; answers how many destinations got them."""
    stores = context.stores
    senders = {context.config.server_name, on_behalf_of}
    now = context.clock.now_ms()
    with context.database.write() as conn:
        lock_room_on_stream(conn, FAMILY, room_id)  # one fan-out of a room at a time: queue rows keep its order
        found = stores.events.get_events(conn, event_ids)
        events = sorted((stored for stored in found.values() if server_of(stored.event.sender) in senders),
                        key=lambda stored: stored.stream_ordering)
        if not events:
            return 0
        targets = {_removed_server(stored.event) for stored in events}
        destinations = sorted((set(room_destinations(context, conn, room_id)) | set(allowed(context, targets)))
                              - {on_behalf_of})
        store = stores.federation_sending
        states = store.lock_destinations(conn, destinations)
        latest = events[-1]  # the room's latest event each destination is due (all of them are in this room)
        catching_up = {destination for destination, state in states.items()
                       if state.catching_up or state.backing_off(now)}
        store.upsert_destination_rooms(conn, [(destination, room_id, latest.event_id, latest.stream_ordering,
                                               destination in catching_up) for destination in destinations])
        store.insert_pdus(conn, [(destination, room_id, stored.event_id) for destination in destinations
                                 if destination not in catching_up for stored in events], now)
        awake = [destination for destination in destinations if not states[destination].backing_off(now)]
    for destination in awake:
        context.dispatcher.send(SEND_TO_DESTINATION, destination=destination)
    return len(destinations)


def queue_edu(context: TaskContext, *, shard_key: str, edu_type: str, content: dict[str, Any],
              destinations: list[str], coalesce_key: str | None = None) -> int:
    """Queue one EDU for ``destinations`` (the poker knows who is in the room); answers how many will be sent it
    now. ``coalesce_key`` replaces an older EDU still waiting under the same key."""
    stores = context.stores
    now = context.clock.now_ms()
    edu = {"edu_type": edu_type, "content": content}
    awake: list[str] = []
    with context.database.write() as conn:
        states = stores.federation_sending.lock_destinations(conn, allowed(context, destinations))
        for destination, state in sorted(states.items()):
            down = state.catching_up or state.backing_off(now)
            if down and edu_type in EPHEMERAL_EDUS:
                continue
            stores.federation_sending.insert_edu(conn, destination, edu, coalesce_key, now)
            if not state.backing_off(now):
                awake.append(destination)
    for destination in awake:
        context.dispatcher.send(SEND_TO_DESTINATION, destination=destination)
    return len(awake)


TASKS = (
    TaskSpec(QUEUE_PDUS, family=FAMILY, body=queue_pdus, shard_param="room_id"),
    TaskSpec(QUEUE_EDU, family=FAMILY, body=queue_edu, shard_param="shard_key", returns_result=True),
)
