"""Server-side search (Client-Server API, "Server Side Search"): ``POST /search``, category ``room_events``.

The store matches words and ranks; this view decides where and what the user may see. It searches the rooms the
user is or was in (join, leave, ban), keeps only results :func:`visible_events` lets them see and that no
redaction names, and pages with ``next_batch``: ``rank-<n>`` counts rows already read in rank order,
``recent-<stream>`` resumes below a stream position, so newer events never shift a recent page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint
from sqlalchemy import Connection

from persistence.stores.events import StoredEvent
from persistence.stores.search import ORDER_BY, SearchHit, SearchQuery
from protocol.errors import InvalidParam
from protocol.filters import EVERYTHING, RoomEventFilter, type_matches
from protocol.search import SEARCH_KEYS, search_words
from protocol.tokens import RoomPosition
from web.auth import authenticate
from web.client.room_access import visible_events
from web.client.serving import serve_event, serve_events
from web.deps import Deps, deps
from web.requests import Body, json_body, query_text
from web.routing import client_route

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
DEFAULT_CONTEXT = 5
MAX_CONTEXT = 100
MAX_TERM_LENGTH = 1024
MAX_BATCHES = 10
"""Pages read from the index for one response at most, however many results visibility removes."""
GROUP_KEYS = ("room_id", "sender")


@dataclass(frozen=True)
class Criteria:
    query: SearchQuery
    order_by: str
    limit: int
    event_filter: RoomEventFilter
    context: tuple[int, int, bool] | None  # before_limit, after_limit, include_profile
    include_state: bool
    group_by: tuple[str, ...]


@dataclass
class Cursor:
    """Where the next page starts: rows of rank order already read, or the stream position to go below."""

    order_by: str
    offset: int = 0
    before_stream: int | None = None

    @staticmethod
    def parse(token: str | None, order_by: str) -> Cursor:
        if token is None:
            return Cursor(order_by)
        kind, _, number = token.partition("-")
        if kind != order_by or not number.isdigit() or len(number) > 18:
            raise InvalidParam("Unknown 'next_batch' token")
        if order_by == "rank":
            return Cursor(order_by, offset=int(number))
        return Cursor(order_by, before_stream=int(number))

    def advance(self, hit: SearchHit) -> None:
        if self.order_by == "rank":
            self.offset += 1
        else:
            self.before_stream = hit.stream_ordering

    def format(self) -> str:
        return f"rank-{self.offset}" if self.order_by == "rank" else f"recent-{self.before_stream}"


def search() -> dict[str, Any]:
    current = deps()
    requester = authenticate(current)
    body = json_body()
    categories = body.object("search_categories")
    assert categories is not None
    room_events = categories.object("room_events", required=False)
    if room_events is None:
        return {"search_categories": {}}
    with current.database.read() as conn:
        rooms = _searchable_rooms(current, conn, requester.user_id)
        criteria = _criteria(room_events, rooms)
        cursor = Cursor.parse(query_text("next_batch"), criteria.order_by)
        hits, more = _visible_page(current, conn, requester.user_id, criteria, cursor)
        result = {
            "count": current.stores.search.count_matches(conn, criteria.query),
            "highlights": list(criteria.query.words),
            "results": [_result(current, conn, requester.user_id, stored, rank, criteria)
                        for stored, rank in hits],
        }
        if criteria.include_state:
            result["state"] = _current_state(current, conn, requester.user_id, {stored.room_id for stored, _ in hits})
    if criteria.group_by:
        result["groups"] = _groups(criteria.group_by, [stored for stored, _ in hits])
    if more:
        result["next_batch"] = cursor.format()
    return {"search_categories": {"room_events": result}}


def _searchable_rooms(current: Deps, conn: Connection, user_id: str) -> list[str]:
    """Rooms the user is or has been in: the spec searches left rooms too, as far as the user saw them."""
    rooms: set[str] = set()
    for membership in ("join", "leave", "ban"):
        rooms.update(current.stores.state.list_rooms_with_membership(conn, user_id, membership))
    return sorted(rooms)


def _criteria(body: Body, rooms: list[str]) -> Criteria:
    term = body.text("search_term", max_length=MAX_TERM_LENGTH)
    keys = body.texts("keys", list(SEARCH_KEYS))
    unknown = [key for key in keys if key not in SEARCH_KEYS]
    if unknown:
        raise InvalidParam(f"Unknown search key {unknown[0]!r}; expected one of {', '.join(SEARCH_KEYS)}")
    order_by = body.text("order_by", "rank")
    if order_by not in ORDER_BY:
        raise InvalidParam("'order_by' must be 'rank' or 'recent'")
    filter_body = body.object("filter", required=False)
    event_filter = RoomEventFilter.parse(filter_body.data) if filter_body else EVERYTHING
    wanted_rooms = [room for room in rooms if event_filter.rooms is None or room in event_filter.rooms]
    wanted_rooms = [room for room in wanted_rooms if room not in event_filter.not_rooms]
    wanted_keys = [key for key in dict.fromkeys(keys) if _type_wanted(event_filter, SEARCH_KEYS[key])]
    context_body = body.object("event_context", required=False)
    context = None
    if context_body is not None:
        context = (_bounded(context_body, "before_limit"), _bounded(context_body, "after_limit"),
                   bool(context_body.flag("include_profile", False)))
    return Criteria(
        query=SearchQuery(search_words(term), wanted_rooms, wanted_keys, event_filter.senders,
                          event_filter.not_senders),
        order_by=order_by, limit=min(event_filter.limit or DEFAULT_LIMIT, MAX_LIMIT), event_filter=event_filter,
        context=context, include_state=bool(body.flag("include_state", False)), group_by=_group_by(body))


def _type_wanted(event_filter: RoomEventFilter, event_type: str) -> bool:
    if any(type_matches(event_type, pattern) for pattern in event_filter.not_types):
        return False
    return event_filter.types is None or any(type_matches(event_type, pattern) for pattern in event_filter.types)


def _bounded(body: Body, key: str) -> int:
    value = body.integer(key, DEFAULT_CONTEXT)
    if not 0 <= value <= MAX_CONTEXT:
        raise InvalidParam(f"'event_context.{key}' must be between 0 and {MAX_CONTEXT}")
    return int(value)


def _group_by(body: Body) -> tuple[str, ...]:
    groupings = body.object("groupings", required=False)
    if groupings is None:
        return ()
    items = groupings.data.get("group_by", [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise InvalidParam("'groupings.group_by' must be a list of objects")
    keys = [Body(item, "groupings.group_by").text("key") for item in items]
    if any(key not in GROUP_KEYS for key in keys):
        raise InvalidParam("Results can be grouped by 'room_id' or 'sender' only")
    return tuple(dict.fromkeys(keys))


def _visible_page(current: Deps, conn: Connection, user_id: str, criteria: Criteria,
                  cursor: Cursor) -> tuple[list[tuple[StoredEvent, float]], bool]:
    """Up to ``limit`` results the user may see, from ``cursor`` on (advancing it); and whether more may follow."""
    store = current.stores.search
    found: list[tuple[StoredEvent, float]] = []
    for _ in range(MAX_BATCHES):
        batch = store.list_matches(conn, criteria.query, order_by=criteria.order_by, offset=cursor.offset,
                                   limit=criteria.limit, before_stream=cursor.before_stream)
        allowed = _allowed(current, conn, user_id, criteria.event_filter, batch)
        for hit in batch:
            cursor.advance(hit)
            if hit.event_id in allowed:
                found.append((allowed[hit.event_id], hit.rank))
                if len(found) == criteria.limit:
                    break
        if len(found) == criteria.limit or len(batch) < criteria.limit:
            break
    more = bool(store.list_matches(conn, criteria.query, order_by=criteria.order_by, offset=cursor.offset,
                                   limit=1, before_stream=cursor.before_stream))
    return found, more


def _allowed(current: Deps, conn: Connection, user_id: str, event_filter: RoomEventFilter,
             hits: list[SearchHit]) -> dict[str, StoredEvent]:
    """The hits the user may see: accepted, unredacted (a redacted event no longer holds the matched text),
    visible to them, and passing the filter's remaining conditions."""
    stored = current.stores.events.get_events(conn, [hit.event_id for hit in hits])
    redacted = current.stores.relations.list_redactions_of(conn, list(stored))
    by_room: dict[str, list[StoredEvent]] = {}
    for event in stored.values():
        if event.rejected_reason is None and event.event_id not in redacted and event_filter.matches(
                event.event.type, event.event.sender, event.event.content, event.room_id):
            by_room.setdefault(event.room_id, []).append(event)
    return {event.event_id: event for room_id, events in by_room.items()
            for event in visible_events(current, conn, room_id, user_id, events)}


def _result(current: Deps, conn: Connection, user_id: str, stored: StoredEvent, rank: float,
            criteria: Criteria) -> dict[str, Any]:
    now = current.clock.now_ms()
    result: dict[str, Any] = {"rank": rank, "result": serve_event(current, conn, stored, now, user_id)}
    if criteria.context is None:
        return result
    before_limit, after_limit, include_profile = criteria.context
    events = current.stores.events
    before = events.list_room_events(conn, stored.room_id, before=stored.stream_ordering, limit=before_limit,
                                     backwards=True) if before_limit else []
    after = events.list_room_events(conn, stored.room_id, after=stored.stream_ordering, limit=after_limit,
                                    backwards=False) if after_limit else []
    before = visible_events(current, conn, stored.room_id, user_id, before)
    after = visible_events(current, conn, stored.room_id, user_id, after)
    first, last = (before[-1] if before else stored), (after[-1] if after else stored)
    context: dict[str, Any] = {
        "events_before": serve_events(current, conn, before, now, user_id),
        "events_after": serve_events(current, conn, after, now, user_id),
        "start": RoomPosition.before(first.event.depth, first.stream_ordering).format(),
        "end": RoomPosition.after(last.event.depth, last.stream_ordering).format(),
    }
    if include_profile:
        senders = {event.event.sender for event in (stored, *before, *after)}
        context["profile_info"] = _profiles_at(current, conn, stored, senders)
    result["context"] = context
    return result


def _profiles_at(current: Deps, conn: Connection, stored: StoredEvent, senders: Iterable[str]) -> dict[str, Any]:
    """The senders' display names and avatars as the room state held them at the result (historic profiles)."""
    group = current.stores.state.get_event_state_group(conn, stored.event_id)
    if group is None:
        return {}
    state = current.stores.state.get_state(conn, group)
    member_ids = {sender: state[("m.room.member", sender)] for sender in senders
                  if ("m.room.member", sender) in state}
    members = current.stores.events.get_events(conn, member_ids.values())
    profiles: dict[str, Any] = {}
    for sender, event_id in member_ids.items():
        member = members.get(event_id)
        if member is None:
            continue
        content = member.event.content
        profiles[sender] = {key: content[key] for key in ("displayname", "avatar_url")
                            if isinstance(content.get(key), str)}
    return profiles


def _current_state(current: Deps, conn: Connection, user_id: str, room_ids: set[str]) -> dict[str, Any]:
    """Current state of the result rooms the user is still joined to (a departed user sees no newer state)."""
    now = current.clock.now_ms()
    state: dict[str, Any] = {}
    for room_id in sorted(room_ids):
        if user_id not in current.stores.state.list_members(conn, room_id, "join"):
            continue
        events = current.stores.events.get_events(conn, current.stores.state.get_current_state_ids(conn, room_id)
                                                  .values())
        state[room_id] = serve_events(current, conn, sorted(events.values(), key=lambda event: event.stream_ordering),
                                      now, user_id)
    return state


def _groups(group_by: tuple[str, ...], results: list[StoredEvent]) -> dict[str, Any]:
    groups: dict[str, Any] = {}
    for key in group_by:
        grouped: dict[str, Any] = {}
        for stored in results:
            value = stored.room_id if key == "room_id" else stored.event.sender
            entry = grouped.setdefault(value, {"order": len(grouped) + 1, "results": []})
            entry["results"].append(stored.event_id)
        groups[key] = grouped
    return groups


def register_routes(blueprint: Blueprint) -> None:
    client_route(blueprint, "/search", methods=["POST"])(search)
