"""The deprecated initial syncs some clients still use (Client-Server API, "Syncing" > "Deprecated"):
``GET /initialSync`` and ``GET /rooms/{roomId}/initialSync`` (the event stream is in ``legacy_events.py``).

They are views over what ``/sync`` reads: the same tokens, the same timeline walk and visibility; only the
response shapes differ (v1 events, presence and receipts as ``legacy_ephemeral.py`` gives them). Starting to sync
marks the user online, as ``/sync`` does.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from persistence.stores.account_data import GLOBAL
from persistence.stores.events import StoredEvent
from protocol.errors import InvalidParam
from protocol.tokens import RoomPosition
from web.auth import authenticate
from web.client.legacy_ephemeral import members_presence, room_receipts, visible_presence
from web.client.legacy_format import legacy_reader, v1_events
from web.client.paging import query_integer
from web.client.room_access import readable_state_ids
from web.deps import deps
from web.requests import query_text
from web.routing import client_route
from web.sync.presence import record_sync
from web.sync.response import ACCOUNT_DATA, EVENTS, PRESENCE, RECEIPTS, current_token
from web.sync.rooms import SyncReader, read_timeline, state_at

DEFAULT_LIMIT = 10
MAX_LIMIT = 100


def _limit() -> int:
    limit = query_integer("limit")
    if limit is not None and limit < 0:
        raise InvalidParam("Query parameter 'limit' must not be negative")
    return DEFAULT_LIMIT if limit is None else min(limit, MAX_LIMIT)


def _room_info(reader: SyncReader, room_id: str, membership: str, member: StoredEvent | None,
               until: Any, limit: int) -> dict[str, Any]:
    """One room as ``initialSync`` shows it: recent messages, state, visibility, the user's room account data."""
    stores = reader.deps.stores
    info: dict[str, Any] = {"room_id": room_id, "membership": membership}
    if membership == "invite" and member is not None:
        info["invite"] = v1_events(reader.serve([member]))[0]
        return info
    departed = membership in ("leave", "ban") and member is not None
    at_most = member.stream_ordering if departed and member is not None else None
    timeline = read_timeline(reader, room_id, None, until, at_most=at_most)
    chunk = timeline.events if limit else []
    last = chunk[-1] if chunk else member
    end = RoomPosition.after(last.event.depth, last.stream_ordering) if last else RoomPosition(0, 0)
    messages: dict[str, Any] = {"chunk": v1_events(reader.serve(chunk, with_txn_ids=True)), "end": end.format()}
    if chunk:
        messages["start"] = RoomPosition.before(chunk[0].event.depth, chunk[0].stream_ordering).format()
    if departed and member is not None:  # the state as they left it
        group = stores.state.get_event_state_group(reader.conn, member.event_id)
        state_ids = stores.state.get_state(reader.conn, group) if group is not None else {}
    else:
        state_ids = state_at(reader, room_id, until)
    state = sorted(stores.events.get_events(reader.conn, state_ids.values()).values(),
                   key=lambda stored: stored.stream_ordering)
    info.update(messages=messages, state=v1_events(reader.serve(state)),
                visibility="public" if stores.directory.is_published(reader.conn, room_id) else "private")
    return info


def initial_sync() -> dict[str, Any]:
    current = deps()
    requester = authenticate(current, allow_guest=True)
    limit = _limit()
    archived = query_text("archived", max_length=8) == "true"
    record_sync(current, requester.user_id, None, 0)  # starting to sync marks the user online, as /sync does
    with current.database.read() as conn:
        until = current_token(current, conn)
        reader = legacy_reader(current, conn, requester, limit)
        memberships = current.stores.state.list_user_memberships(conn, requester.user_id)
        members = current.stores.events.get_events(conn, [event_id for _, event_id in memberships.values()])
        entries = current.stores.account_data.list_account_data(conn, requester.user_id, None,
                                                                until.stream(ACCOUNT_DATA))
        rooms = []
        for room_id, (membership, event_id) in sorted(memberships.items()):
            if membership is None or (membership in ("leave", "ban") and not archived) or membership == "knock":
                continue
            info = _room_info(reader, room_id, membership, members.get(event_id), until.stream(EVENTS), limit)
            info["account_data"] = [{"type": entry.type, "content": entry.content} for entry in entries
                                    if entry.room_id == room_id]
            rooms.append(info)
        joined = [room_id for room_id, (membership, _) in memberships.items() if membership == "join"]
        presence = visible_presence(current, conn, requester.user_id, until.stream(PRESENCE), reader.now_ms)
        receipts = room_receipts(current, conn, joined, requester.user_id, until.stream(RECEIPTS))
    return {"end": until.format(), "presence": presence, "receipts": receipts, "rooms": rooms,
            "account_data": [{"type": entry.type, "content": entry.content} for entry in entries
                             if entry.room_id == GLOBAL]}


def room_initial_sync(room_id: str) -> dict[str, Any]:
    """One room as ``/initialSync`` shows it, with its members' presence and its receipts; a member who left sees
    the room as they left it, without either (nothing after their leave)."""
    current = deps()
    requester = authenticate(current, allow_guest=True)
    limit = _limit()
    with current.database.read() as conn:
        readable_state_ids(current, conn, room_id, requester.user_id)  # 403 / 404 as /state answers
        until = current_token(current, conn)
        reader = legacy_reader(current, conn, requester, limit)
        found = current.stores.state.get_membership(conn, room_id, requester.user_id)
        member = current.stores.events.get_event(conn, found[1]) if found else None
        membership = (found[0] if found else None) or "leave"
        info = _room_info(reader, room_id, membership, member, until.stream(EVENTS), limit)
        entries = current.stores.account_data.list_account_data(conn, requester.user_id, None,
                                                                until.stream(ACCOUNT_DATA))
        departed = membership in ("leave", "ban")
        members = [] if departed else list(current.stores.state.list_members(conn, room_id, "join"))
        info["presence"] = members_presence(current, conn, members, reader.now_ms)
        info["receipts"] = [] if departed else room_receipts(current, conn, [room_id], requester.user_id,
                                                             until.stream(RECEIPTS))
    info["account_data"] = [{"type": entry.type, "content": entry.content} for entry in entries
                            if entry.room_id == room_id]
    return info


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/initialSync", methods=["GET"])(initial_sync)
    client_route(blueprint, "/rooms/<room_id>/initialSync", methods=["GET"])(room_initial_sync)
