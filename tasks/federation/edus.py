"""Outbound EDUs (Server-Server API, "EDUs"): what the stream writers tell other servers after they commit.

Each function is a poke for :data:`~tasks.federation.fan_out.QUEUE_EDU`, sent after the writer's transaction
committed and only for our own users (a remote user's typing or receipt came from their server, which tells the
others itself). A lost poke loses one ephemeral update, which the next one supersedes; to-device messages to remote
users are queued by the web tier, which waits for them to be stored (``tasks/api.py``).
"""

from __future__ import annotations

import json
from typing import Any

from protocol.identifiers import server_of
from protocol.presence import UserPresence, presence_content
from protocol.receipts import UNTHREADED
from tasks.api import QUEUE_EDU
from tasks.context import TaskContext
from tasks.federation.destinations import (
    allowed,
    federation_enabled,
    room_destinations,
    user_destinations,
)
from tasks.federation.fan_out import FAMILY, SHARE_PRESENCE, queue_edu
from tasks.registry import TaskSpec

FEDERATED_RECEIPTS = frozenset({"m.read"})
"""Receipt types other servers hear of: private read receipts stay on this server (spec: "Private read receipts")."""


def _ours(context: TaskContext, user_id: str) -> bool:
    return server_of(user_id) == context.config.server_name and federation_enabled(context)


def _in_room(context: TaskContext, room_id: str) -> list[str]:
    with context.database.read() as conn:
        return room_destinations(context, conn, room_id)


def typing_changed(context: TaskContext, room_id: str, changes: dict[str, bool]) -> None:
    """``m.typing``: each of our users who started (True) or stopped (False) typing in ``room_id``."""
    ours = {user_id: typing for user_id, typing in changes.items() if _ours(context, user_id)}
    destinations = _in_room(context, room_id) if ours else []
    for user_id, typing in sorted(ours.items()) if destinations else ():
        context.dispatcher.send(QUEUE_EDU, shard_key=room_id, edu_type="m.typing", destinations=destinations,
                                content={"room_id": room_id, "user_id": user_id, "typing": typing},
                                coalesce_key=json.dumps(["m.typing", room_id, user_id]))


def receipt_stored(context: TaskContext, room_id: str, user_id: str, receipt_type: str, event_id: str,
                   thread_id: str, ts: int) -> None:
    """``m.receipt``: our user's public read receipt, for every server in the room."""
    if receipt_type not in FEDERATED_RECEIPTS or not _ours(context, user_id):
        return
    destinations = _in_room(context, room_id)
    if not destinations:
        return
    data: dict[str, Any] = {"ts": ts}
    if thread_id != UNTHREADED:
        data["thread_id"] = thread_id
    content = {room_id: {receipt_type: {user_id: {"event_ids": [event_id], "data": data}}}}
    context.dispatcher.send(QUEUE_EDU, shard_key=room_id, edu_type="m.receipt", destinations=destinations,
                            content=content,
                            coalesce_key=json.dumps(["m.receipt", room_id, user_id, receipt_type, thread_id]))


def _push(context: TaskContext, presence: UserPresence) -> dict[str, Any]:
    """One ``m.presence`` push (Server-Server API: ``last_active_ago`` and ``currently_active`` are required)."""
    content = {"user_id": presence.user_id, **presence_content(presence, context.clock.now_ms())}
    content.setdefault("currently_active", False)
    content.setdefault("last_active_ago", 0)
    return content


def share_presence(context: TaskContext, *, room_id: str, user_id: str) -> int:
    """``user_id`` joined ``room_id``: if they are ours, the room's other servers get their presence; if not,
    their server gets the presence of each of our users in the room (Synapse does both, so a new shared room
    shows presence at once). Answers how many destinations it was queued for."""
    if not context.config.presence.enabled:
        return 0
    ours = context.config.server_name
    with context.database.read() as conn:
        if server_of(user_id) == ours:
            destinations = room_destinations(context, conn, room_id)
            users = [user_id]
        else:
            destinations = allowed(context, [server_of(user_id)])
            users = sorted(member for member in context.stores.state.list_members(conn, room_id, "join")
                           if server_of(member) == ours)
        found = context.stores.presence.list_presence(conn, users) if destinations and users else []
    if not found:
        return 0
    return queue_edu(context, shard_key=room_id, edu_type="m.presence", destinations=destinations,
                     content={"push": [_push(context, presence) for presence in found]})


def presence_changed(context: TaskContext, presence: UserPresence) -> None:
    """``m.presence``: our user's new presence, for every server sharing a room with them."""
    if not context.config.presence.enabled or not _ours(context, presence.user_id):
        return
    with context.database.read() as conn:
        destinations = user_destinations(context, conn, presence.user_id)
    if not destinations:
        return
    content = _push(context, presence)
    context.dispatcher.send(QUEUE_EDU, shard_key=presence.user_id, edu_type="m.presence",
                            destinations=destinations,
                            content={"push": [content]}, coalesce_key=json.dumps(["m.presence", presence.user_id]))


TASKS = (
    TaskSpec(SHARE_PRESENCE, family=FAMILY, body=share_presence, shard_param="room_id"),
)
