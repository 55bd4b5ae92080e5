"""Who may read what in a room: the one place read endpoints ask.

``require_joined`` guards what needs current membership; ``readable_state_group`` says which state a reader sees
(the current state, or the state as of a departed member's leave); ``visible_events`` applies history visibility
(Client-Server API, "Room History Visibility") to a batch of events with a fixed number of queries, whatever the
batch's size: the state groups of the batch, the two state entries the rules read in each, those events, and
(only for a reader not joined now) the reader's own membership events.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from sqlalchemy import Connection

from persistence.stores.account_data import GLOBAL, IGNORED_USERS_TYPE
from persistence.stores.events import StoredEvent
from protocol.errors import Forbidden, NotFound
from protocol.events.model import Event, StateKey
from protocol.redaction import redact_event
from protocol.visibility import (
    HISTORY_VISIBILITY_KEY,
    HISTORY_VISIBILITY_TYPE,
    JOINED,
    WORLD_READABLE,
    ReaderAt,
    history_visibility_of,
    may_see_event,
    member_key,
)
from web.deps import Deps


def ignored_users(deps: Deps, conn: Connection, user_id: str) -> frozenset[str]:
    """Whom ``user_id`` ignores: the keys of ``ignored_users`` in their global ``m.ignored_user_list``."""
    content = deps.stores.account_data.get_account_data(conn, user_id, GLOBAL, IGNORED_USERS_TYPE) or {}
    listed = content.get("ignored_users")
    return frozenset(key for key in listed if isinstance(key, str)) if isinstance(listed, dict) else frozenset()


def require_room(deps: Deps, conn: Connection, room_id: str) -> None:
    """404 for a room this server does not know."""
    if deps.stores.rooms.get_room(conn, room_id) is None:
        raise NotFound("Unknown room")


def require_joined(deps: Deps, conn: Connection, room_id: str, user_id: str) -> None:
    """Refuse (403, or 404 for an unknown room) unless ``user_id`` is joined to ``room_id`` now."""
    require_room(deps, conn, room_id)
    found = deps.stores.state.get_membership(conn, room_id, user_id)
    if found is None or found[0] != "join":
        raise Forbidden(f"User {user_id} not in room {room_id}")


def current_history_visibility(deps: Deps, conn: Connection, room_id: str) -> str:
    event_id = deps.stores.state.get_current_state_event_id(conn, room_id, HISTORY_VISIBILITY_KEY)
    stored = deps.stores.events.get_event(conn, event_id) if event_id else None
    return history_visibility_of(stored.event.content if stored else None)


def readable_state_group(deps: Deps, conn: Connection, room_id: str, user_id: str) -> int | None:
    """Which state ``user_id`` may read: None for the current state, else the group as of their leave.

    A member reads the current state; one who left reads the state at their leave (as Synapse serves
    ``/state`` and ``/members``); anyone reads the current state of a ``world_readable`` room. Others get 403.
    """
    require_room(deps, conn, room_id)
    found = deps.stores.state.get_membership(conn, room_id, user_id)
    if found is not None and found[0] == "join":
        return None
    if found is not None and found[0] == "leave":
        group = deps.stores.state.get_event_state_group(conn, found[1])
        if group is not None:
            return group
    if current_history_visibility(deps, conn, room_id) == WORLD_READABLE:
        return None
    raise Forbidden(f"User {user_id} not in room {room_id}")


def readable_state_ids(deps: Deps, conn: Connection, room_id: str, user_id: str) -> dict[StateKey, str]:
    """The state ``user_id`` may read (see :func:`readable_state_group`)."""
    group = readable_state_group(deps, conn, room_id, user_id)
    if group is None:
        return deps.stores.state.get_current_state_ids(conn, room_id)
    return deps.stores.state.get_state(conn, group)


def visible_events(deps: Deps, conn: Connection, room_id: str, user_id: str, events: Sequence[StoredEvent], *,
                   ignored: frozenset[str] | None = None) -> list[StoredEvent]:
    """The subset of ``events`` (all of ``room_id``) that ``user_id`` may see, in the given order: by history
    visibility, and without the (non-state) events of users they ignore (spec: "Ignoring Users"). A caller
    filtering many batches for one reader (a /sync) passes ``ignored`` read once, else it is read here."""
    return visible_events_in_rooms(deps, conn, user_id, events, ignored=ignored)


def visible_events_in_rooms(deps: Deps, conn: Connection, user_id: str, events: Sequence[StoredEvent], *,
                            ignored: frozenset[str] | None = None,
                            joined_rooms: Collection[str] = ()) -> list[StoredEvent]:
    """:func:`visible_events` for events of any number of rooms, with the same fixed number of queries: an
    initial /sync filters every room's timeline at once. ``joined_rooms``: rooms the caller knows the reader is
    joined to now (saving the membership lookup the rules need otherwise, one per other room)."""
    if not events:
        return []
    if ignored is None:
        ignored = ignored_users(deps, conn, user_id)
    if ignored:
        events = [stored for stored in events if stored.event.is_state or stored.event.sender not in ignored]
        if not events:
            return []
    stores = deps.stores
    changes = {stored.event_id: stored.event.prev_event_ids for stored in events
               if stored.event.type == HISTORY_VISIBILITY_TYPE and stored.event.state_key == ""}
    prev_ids = {prev for prevs in changes.values() for prev in prevs}
    groups = stores.state.get_event_state_groups(conn, [stored.event_id for stored in events] + sorted(prev_ids))
    keys = {HISTORY_VISIBILITY_KEY, member_key(user_id)}
    states = stores.state.get_state_ids_for_groups(conn, set(groups.values()), keys)
    cited = stores.events.get_events(conn, {event_id for state in states.values() for event_id in state.values()})

    def reader_at(group: int) -> ReaderAt:
        state = states.get(group, {})
        setting = cited.get(state.get(HISTORY_VISIBILITY_KEY, ""))
        member = cited.get(state.get(member_key(user_id), ""))
        return ReaderAt(history_visibility_of(setting.event.content if setting else None),
                        member.event.membership if member else None)

    erased = stores.users.list_erased(conn, {stored.event.sender for stored in events})
    joined_later: dict[str, Callable[[StoredEvent], bool]] = {}
    shown = []
    for stored in events:
        if stored.room_id not in joined_later:
            joined_later[stored.room_id] = (_always if stored.room_id in joined_rooms
                                            else _joined_later(deps, conn, stored.room_id, user_id))
        group = groups.get(stored.event_id)
        # No state known at the event (an outlier): only the reader's own membership shows.
        after = ReaderAt(JOINED, None) if group is None else reader_at(group)
        previous = [reader_at(groups[prev]).history_visibility
                    for prev in changes.get(stored.event_id, ()) if prev in groups]
        if may_see_event(stored.event, user_id, after=after, joined_later=joined_later[stored.room_id](stored),
                         previous_visibilities=previous):
            # An erased sender's event reaches only those who were joined when it was sent; others see it
            # redacted (Synapse's erasure).
            shown.append(_erased(stored) if stored.event.sender in erased and after.membership != "join"
                         else stored)
    return shown


def _erased(stored: StoredEvent) -> StoredEvent:
    version = stored.event.room_version
    pruned = Event(stored.event_id, version, redact_event(stored.event.pdu, version))
    return StoredEvent(pruned, stored.room_id, stored.stream_ordering, stored.rejected_reason, stored.replaces_state)


def _always(stored: StoredEvent) -> bool:
    """A member joined now joined after every earlier event."""
    return True


def _joined_later(deps: Deps, conn: Connection, room_id: str, user_id: str) -> Callable[[StoredEvent], bool]:
    """"The user joined the room at any point after the event was sent" (rule 3), read lazily: a member joined
    now joined after every earlier event; for anyone else, their latest join is looked up once, if needed."""
    found = deps.stores.state.get_membership(conn, room_id, user_id)
    if found is not None and found[0] == "join":
        return _always
    latest: list[tuple[int, int] | None] = []

    def joined_after(stored: StoredEvent) -> bool:
        if not latest:
            joins = [(member.event.depth, member.stream_ordering)
                     for member in deps.stores.events.list_member_events(conn, room_id, user_id)
                     if member.event.membership == "join"]
            latest.append(max(joins) if joins else None)
        last_join = latest[0]
        return last_join is not None and (stored.event.depth, stored.stream_ordering) < last_join

    return joined_after
